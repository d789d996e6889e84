// `pnpm bench [NAME…]`: runs bench/NAME.mjs for each name given, or every benchmark.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir } from './lib.mjs';

const all = readdirSync(benchDir)
  .filter((f) => f.endsWith('.mjs') && f !== 'lib.mjs' && f !== 'run.mjs')
  .map((f) => f.slice(0, -4))
  .sort();
const names = process.argv.slice(2).length ? process.argv.slice(2) : all;
let failed = 0;
for (const n of names) {
  if (!all.includes(n)) {
    console.error(`bench: no benchmark "${n}"; available: ${all.join(', ')}`);
    process.exit(2);
  }
  const r = spawnSync(process.execPath, [join(benchDir, `${n}.mjs`)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
