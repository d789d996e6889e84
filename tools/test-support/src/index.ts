// Test helpers shared by every package: real peers, fixtures, ports, temp dirs. Not published.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder with pnpm-workspace.yaml). */
export const repoRoot: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** `../shared` beside the repository: design, fixtures, peers. */
export const sharedDir: string = resolve(repoRoot, '../shared');
/** Real-world fixtures written by other tools. */
export const fixturesDir: string = join(sharedDir, 'fixtures');
/** Scripts that install and run the peers. */
export const peersDir: string = join(sharedDir, 'peers');

const inCI = process.env.CI === 'true' || process.env.CI === '1';

/**
 * True when every named command is on PATH. In CI a missing peer is an error (CI installs them);
 * locally the caller skips, and this prints how to install them.
 * Use as `describe.runIf(peersAvailable('skopeo'))(…)`.
 */
export function peersAvailable(...commands: string[]): boolean {
  const missing = commands.filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
  if (missing.length === 0) return true;
  const msg = `peer(s) not installed: ${missing.join(', ')}; install with: sudo ${join(peersDir, 'install.sh')}`;
  if (inCI) throw new Error(`${msg} (CI must install every peer)`);
  console.warn(`skipping: ${msg}`);
  return false;
}

/** Result of a finished command. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion and returns its exit code and output (never throws on a non-zero exit). */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((res, rej) => {
    const child = execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        maxBuffer: 256 * 1024 * 1024,
        timeout: options.timeoutMs ?? 600_000,
        encoding: 'utf8',
      },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return rej(err);
        res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function runOk(
  command: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): Promise<string> {
  const r = await run(command, args, options);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

/** A fresh temp directory and its removal. */
export async function tempDir(prefix = 'lade-test-'): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** A distribution registry (Debian's docker-registry) started for a test. */
export interface PeerRegistry {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT` */
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** Starts a distribution registry on a free port (optionally with htpasswd basic auth `user:pass`). */
export async function startRegistry(
  options: { auth?: string; readonly?: boolean; dataDir?: string } = {},
): Promise<PeerRegistry> {
  const port = await freePort();
  const dataDir = options.dataDir ?? (await tempDir('lade-registry-')).path;
  const args = ['start', '--port', String(port), '--dir', dataDir];
  if (options.auth) args.push('--auth', options.auth);
  if (options.readonly) args.push('--readonly');
  const url = (await runOk('bash', [join(peersDir, 'registry.sh'), ...args])).trim();
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dataDir,
    async stop() {
      await run('bash', [join(peersDir, 'registry.sh'), 'stop', '--port', String(port)]);
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitForLock(lock: string): Promise<void> {
  for (;;) {
    try {
      await mkdir(lock);
      return;
    } catch {
      const s = await stat(lock).catch(() => undefined);
      // A lock older than 15 minutes was left by a killed run.
      if (s && Date.now() - s.mtimeMs > 15 * 60_000) await rm(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * The OCI layout built by `../shared/peers/fixtures.sh` (tags: tricky, amd64, arm64, multi, big), built once per machine
 * and size and reused by every test file (built under a lock). `big` is the total MiB of the big image (default 8).
 */
export async function peerFixtures(options: { big?: number } = {}): Promise<string> {
  const big = options.big ?? 8;
  const dir = join(tmpdir(), `lade-fixtures-big${big}`);
  const done = join(dir, '.lade-complete');
  if (existsSync(done)) return dir;
  const lock = `${dir}.lock`;
  await waitForLock(lock);
  try {
    if (!existsSync(done)) {
      await runOk('bash', [join(peersDir, 'fixtures.sh'), dir, '--big', String(big)], { timeoutMs: 900_000 });
      await writeFile(done, '');
    }
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
  return dir;
}

/** Copies every fixture tag into a registry with skopeo, as `fixtures.sh --push` does: REGISTRY/fixtures/NAME:latest. */
export async function pushPeerFixtures(
  layout: string,
  registryHost: string,
  tags = ['tricky', 'amd64', 'arm64', 'big', 'multi'],
): Promise<void> {
  for (const t of tags) {
    const all = t === 'multi' ? ['--all'] : [];
    await runOk('skopeo', [
      'copy',
      '-q',
      ...all,
      '--dest-tls-verify=false',
      `oci:${layout}:${t}`,
      `docker://${registryHost}/fixtures/${t}:latest`,
    ]);
  }
}
export { selfSignedCertificate } from './cert.js';
export { describeTree, type TreeLine, treeDifferences } from './tree.js';

/** True when the tests run on Deno (vitest under `deno run`). */
export const onDeno: boolean = typeof (process.versions as { deno?: string }).deno === 'string';

/**
 * The argv that runs a package's entry point in a child process on the runtime the tests run on: on Node the
 * TypeScript source through tsx (no build needed), on Deno the built `dist` file with `deno run -A`
 * (so the binary itself is proven on Deno; CI builds before testing).
 */
export function entryArgv(sourceFile: string, distFile: string): [string, ...string[]] {
  if (onDeno) return [process.execPath, 'run', '-A', distFile];
  return [process.execPath, '--conditions', 'lade-source', '--import', 'tsx', sourceFile];
}
