#!/usr/bin/env bash
# lade's main job on a fresh machine with only Node ≥ 20 and npm — no docker, no peers, no network:
# builds lade, starts `lade serve` (filesystem storage in a temp dir) on a free 127.0.0.1 port, loads a real
# `docker save` archive, then tags, pushes, removes, pulls back, lists, inspects, saves and checks the store.
# Every command is printed before it runs; the script stops with a non-zero exit at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh

repo=$PWD
fixture=$repo/../shared/fixtures/ggcr/hello-world-v25.tar
[ -f "$fixture" ] || { echo "demo: $fixture is missing (../shared must sit beside the repository)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/lade-demo.XXXXXX")
export LADE_HOME="$work/store" DOCKER_CONFIG="$work/docker-config"
server_pid=""
cleanup() {
  status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  if [ "$status" -ne 0 ]; then echo "demo: FAILED (exit $status)" >&2; fi
  exit "$status"
}
trap cleanup EXIT

lade() {
  local shown=() a
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:@=+-]+$ ]]; then shown+=("$a"); else shown+=("'$a'"); fi
  done
  printf '\n$ lade %s\n' "${shown[*]}"
  node "$repo/apps/cli/dist/main.js" "$@"
}

printf '$ lade serve --addr 127.0.0.1:0 --root %s &\n' "$work/registry"
node "$repo/apps/cli/dist/main.js" serve --addr 127.0.0.1:0 --root "$work/registry" 2>"$work/serve.log" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q 'listening on' "$work/serve.log" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
grep -q 'listening on' "$work/serve.log" || { echo "demo: lade serve did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
cat "$work/serve.log"
registry=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/serve.log" | head -1)
registry=${registry#http://}
image="$registry/demo/hello-world:v25"

lade --version
lade load -i "$fixture"
lade images -a
id=$(node "$repo/apps/cli/dist/main.js" images -q --filter dangling=true | head -1)
[ -n "$id" ] || { echo "demo: the loaded image is not in the store" >&2; exit 1; }
lade tag "$id" "$image"
lade push "$image"
lade tags ls "$registry/demo/hello-world"
lade catalog "$registry"
lade rmi "$image"
lade pull "$image"
lade images
lade inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} layers={{len .RootFS.Layers}} repo-digests={{json .RepoDigests}}' "$image"
lade history "$image"
lade buildx imagetools inspect "$image"
lade save -o "$work/hello-world.tar" "$image"
printf '$ tar -tf %s\n' "$work/hello-world.tar"
tar -tf "$work/hello-world.tar"
lade copy "docker://$image" "oci:$work/layout:hello"
lade copy "oci:$work/layout:hello" "oci-archive:$work/hello-oci.tar:hello"
lade system df
lade system fsck

printf '\n$ kill %s   # stop lade serve\n' "$server_pid"
kill "$server_pid"
wait "$server_pid" || true
server_pid=""
printf '\ndemo: OK\n'
