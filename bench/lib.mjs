// Side-by-side benchmark harness: runs lade and its peer as child processes on the same input, several rounds,
// and prints median seconds, MB/s, peak RSS and the ratio lade/peer; records the table in BENCHMARKS.md.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = dirname(benchDir);
export const sharedDir = join(repoRoot, '..', 'shared');
/** Scratch space for inputs; ignored by git. */
export const workDir = join(benchDir, '.work');
mkdirSync(workDir, { recursive: true });

const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs one command; resolves { seconds, peakRssKiB } or rejects with its stderr. */
export function timeCommand(cmd, { env, cwd, stdin } = {}) {
  return new Promise((resolve, reject) => {
    const argv = gnuTime ? [gnuTime, '-f', '__LADE_RSS__ %M', ...cmd] : cmd;
    const start = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: { ...process.env, ...env },
      stdio: [stdin ? 'pipe' : 'ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.length > 1 << 20) stderr = stderr.slice(-65536);
    });
    if (stdin) stdin(child.stdin);
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const m = /__LADE_RSS__ (\d+)/.exec(stderr);
      if (code !== 0)
        return reject(
          new Error(
            `${cmd.join(' ')} exited ${code}: ${stderr
              .replace(/__LADE_RSS__ \d+\n?/, '')
              .trim()
              .slice(-2000)}`,
          ),
        );
      resolve({ seconds, peakRssKiB: m ? Number(m[1]) : undefined });
    });
  });
}

/** Runs a command and throws on failure (for setup steps). */
export function sh(cmd, options = {}) {
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', maxBuffer: 1 << 28, ...options });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Clears a case's output path before a round: deletes it, flushes what the previous case left dirty (skopeo and umoci
 * never fsync), and lets the disk settle. This disk (ext4 mounted with discard) does a big rm's freeing work later, and
 * without the pause it landed on whichever case forced I/O next, which is lade (it fsyncs). The outputs used to be
 * moved aside and deleted after the last round instead, but then every round wrote into page cache the VM had never
 * touched, which this VM charges as system time: the third round of bench/pull ran 1.6-1.9 s for both tools instead
 * of 0.9 and 1.2 s.
 */
export function clearOutput(path) {
  if (existsSync(path)) rmSync(path, { recursive: true, force: true });
  sh(['sync']);
  sleepMs(Number(process.env.BENCH_SETTLE_MS ?? 2000));
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function fmtMiB(kib) {
  return kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MB`;
}

/**
 * @param {object} spec
 * @param {string} spec.name            benchmark id, e.g. 'digest'
 * @param {string} spec.description     one line: what is measured, on what input
 * @param {number} [spec.inputBytes]    bytes processed per run (for MB/s)
 * @param {number} [spec.rounds=3]
 * @param {string} [spec.goal]          the goal as the issue states it, e.g. 'lade ≥ 90% of raw node:crypto throughput'
 * @param {string} [spec.command]       the command that reproduces it (default `pnpm bench <name>`)
 * @param {() => Promise<void>|void} [spec.setup]
 * @param {() => Promise<void>|void} [spec.teardown]
 * @param {Array<{name: string, cmd: string[], env?: object, cwd?: string, before?: () => Promise<void>|void, peer?: boolean}>} spec.cases
 *   The first case is lade; `peer: true` marks the case the ratio is taken against (default: the last case).
 */
export async function runBenchmark(spec) {
  const rounds = spec.rounds ?? Number(process.env.BENCH_ROUNDS ?? 3);
  await spec.setup?.();
  const results = [];
  try {
    for (const c of spec.cases) results.push({ case: c, seconds: [], rss: [] });
    // Interleave the cases round by round so drift in the machine affects all alike.
    for (let r = 0; r < rounds; r++) {
      for (const res of results) {
        await res.case.before?.();
        const t = await timeCommand(res.case.cmd, res.case);
        res.seconds.push(t.seconds);
        if (t.peakRssKiB !== undefined) res.rss.push(t.peakRssKiB);
      }
    }
  } finally {
    await spec.teardown?.();
  }
  const peer = results.find((r) => r.case.peer) ?? results[results.length - 1];
  const rows = results.map((r) => {
    const med = median(r.seconds);
    return {
      name: r.case.name,
      median: med,
      mbps: spec.inputBytes ? spec.inputBytes / 1e6 / med : undefined,
      rss: r.rss.length ? Math.max(...r.rss) : undefined,
      ratio: med / median(peer.seconds),
    };
  });
  const header = `| case | median s | MB/s | peak RSS | time ratio vs ${peer.case.name} |`;
  const lines = [header, '|---|---:|---:|---:|---:|'];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${r.median.toFixed(3)} | ${r.mbps === undefined ? '' : r.mbps.toFixed(0)} | ${fmtMiB(r.rss)} | ${r.ratio.toFixed(2)}× |`,
    );
  }
  const table = lines.join('\n');
  console.log(`\n## ${spec.name}: ${spec.description}\n${table}\n`);
  const ladeRow = rows[0];
  console.log(
    `ratio lade/${peer.case.name}: ${ladeRow.ratio.toFixed(2)}× time${spec.goal ? ` (goal: ${spec.goal})` : ''}`,
  );
  if (process.env.BENCH_NO_RECORD !== '1') record(spec, rounds, table, ladeRow, peer.case.name);
  return rows;
}

function record(spec, rounds, table, ladeRow, peerName) {
  const file = join(repoRoot, 'BENCHMARKS.md');
  const start = `<!-- bench:${spec.name} -->`;
  const end = `<!-- /bench:${spec.name} -->`;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const when = new Date().toISOString().slice(0, 10);
  const section = [
    start,
    `### ${spec.name}`,
    spec.description,
    '',
    `Reproduce: \`${spec.command ?? `pnpm bench ${spec.name}`}\` — ${rounds} rounds, median; ${when}; ${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.`,
    '',
    table,
    '',
    `**lade/${peerName}: ${ladeRow.ratio.toFixed(2)}× the time**${spec.goal ? ` — goal: ${spec.goal}` : ''}.`,
    end,
  ].join('\n');
  let text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nSide-by-side runs of lade and the peer tools on the same input, on the same machine, in one run. `pnpm bench` runs all; `pnpm bench NAME` one.\n';
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  text =
    i >= 0 && j > i ? text.slice(0, i) + section + text.slice(j + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}
