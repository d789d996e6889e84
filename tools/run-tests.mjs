// Runs the whole vitest suite on Node, then on Deno, and prints one closing line summing both:
//   tests: N passed, M failed
// Exits non-zero when any test fails or a runner crashes. `--node-only` / `--deno-only` pick one runtime.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const outDir = join(root, '.lade-tmp', 'test-results');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const args = process.argv.slice(2);
const only = args.find((a) => a === '--node-only' || a === '--deno-only');
const passThrough = args.filter((a) => a !== only);
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const deno = join(root, 'node_modules', '.bin', 'deno');

const runtimes = [];
if (only !== '--deno-only') runtimes.push({ name: 'node', argv: [process.execPath, vitest] });
if (only !== '--node-only') runtimes.push({ name: 'deno', argv: [deno, 'run', '-A', vitest] });

function runVitest(rt) {
  const json = join(outDir, `${rt.name}.json`);
  return new Promise((resolve) => {
    console.log(`\n=== vitest on ${rt.name} ===`);
    const child = spawn(
      rt.argv[0],
      [
        ...rt.argv.slice(1),
        'run',
        '--reporter=default',
        '--reporter=json',
        `--outputFile.json=${json}`,
        ...passThrough,
      ],
      {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, LADE_TEST_RUNTIME: rt.name, ...(process.env.CI ? { NO_COLOR: '1' } : {}) },
      },
    );
    child.on('error', (e) => resolve({ rt, code: 1, error: e }));
    child.on('close', (code) => resolve({ rt, code: code ?? 1, json }));
  });
}

let passed = 0;
let failed = 0;
let crashed = false;
for (const rt of runtimes) {
  const r = await runVitest(rt);
  if (r.json && existsSync(r.json)) {
    const report = JSON.parse(readFileSync(r.json, 'utf8'));
    const p = report.numPassedTests ?? 0;
    // Suites that fail to load count as failures too (their tests never ran).
    const suiteFailures = (report.testResults ?? []).filter(
      (s) => s.status === 'failed' && (s.assertionResults ?? []).length === 0,
    ).length;
    const f = (report.numFailedTests ?? 0) + suiteFailures;
    console.log(
      `${rt.name}: ${p} passed, ${f} failed${report.numPendingTests ? `, ${report.numPendingTests} skipped` : ''}`,
    );
    passed += p;
    failed += f;
    if (r.code !== 0 && f === 0) {
      console.log(`${rt.name}: vitest exited ${r.code} without a failing test; counting the run as failed`);
      failed += 1;
    }
  } else {
    console.log(`${rt.name}: vitest did not produce a report (exit ${r.code}${r.error ? `, ${r.error.message}` : ''})`);
    crashed = true;
    failed += 1;
  }
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || crashed ? 1 : 0);
