// bench/digest: 512 MiB through @lade/digest's hashingStream vs raw node:crypto vs sha256sum.
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, runBenchmark, workDir } from './lib.mjs';

const MiB = 1 << 20;
const size = Number(process.env.BENCH_DIGEST_MIB ?? 512) * MiB;
const input = join(workDir, `digest-${size / MiB}MiB.bin`);
if (!existsSync(input) || statSync(input).size !== size) {
  const fd = openSync(input, 'w');
  const buf = randomFillSync(Buffer.alloc(8 * MiB));
  for (let n = 0; n < size; n += buf.length) writeSync(fd, buf, 0, Math.min(buf.length, size - n));
  closeSync(fd);
}
await runBenchmark({
  name: 'digest',
  description: `sha256 of a ${size / MiB} MiB file (page-cached): @lade/digest hashingStream vs raw node:crypto vs GNU sha256sum.`,
  inputBytes: size,
  goal: 'lade ≥ 90% of raw node:crypto throughput (time ratio vs node:crypto ≤ 1.11×)',
  rounds: 5,
  cases: [
    { name: 'lade hashingStream', cmd: [process.execPath, join(benchDir, 'digest/lade.mjs'), input] },
    { name: 'raw node:crypto', cmd: [process.execPath, join(benchDir, 'digest/node.mjs'), input], peer: true },
    { name: 'sha256sum', cmd: ['sha256sum', input] },
  ],
});
