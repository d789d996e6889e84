# Sourced by tools/test.sh and tools/demo.sh: pnpm, the workspace's dependencies, and a build.
if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm" >&2
  npm install -g --silent pnpm@9.15.9 >/dev/null 2>&1 || corepack enable pnpm
fi
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm install --frozen-lockfile --reporter=silent
pnpm exec turbo run build --output-logs=errors-only >/dev/null 2>&1 || { pnpm exec turbo run build --output-logs=errors-only; exit 1; }
