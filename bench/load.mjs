// bench/load: load `big` from a docker-archive (written by skopeo: legacy layout, uncompressed layers) into an OCI layout,
// lade (loadArchive → oci: sink of @lade/store) vs `skopeo copy docker-archive:… oci:…`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, clearOutput, runBenchmark, sh, sharedDir, workDir } from './lib.mjs';

const mib = Number(process.env.BENCH_LOAD_MIB ?? 512);
const layout = join(workDir, `fixtures-big${mib}`);
const archive = join(workDir, `load-big${mib}.tar`);
const out = join(workDir, 'load-out');

await runBenchmark({
  name: 'load',
  description: `Load \`big\` (${mib} MiB in 4 layers of random data) from a docker-archive file written by skopeo into an OCI layout: lade (loadArchive, layers read in place and verified → oci: sink of @lade/store) vs \`skopeo copy docker-archive:… oci:…\`.`,
  goal: "≤ 0.5× skopeo's time; RSS flat",
  command: 'pnpm bench load (BENCH_LOAD_MIB=512)',
  inputBytes: mib * 1024 * 1024,
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  setup() {
    if (!existsSync(join(layout, '.complete'))) {
      sh(['bash', join(sharedDir, 'peers', 'fixtures.sh'), layout, '--big', String(mib)]);
      sh(['touch', join(layout, '.complete')]);
    }
    if (!existsSync(archive))
      sh(['skopeo', 'copy', '-q', `oci:${layout}:big`, `docker-archive:${archive}:fixtures/big:latest`]);
  },
  teardown() {
    sh(['rm', '-rf', out]);
  },
  cases: [
    {
      name: 'lade load',
      cmd: [process.execPath, join(benchDir, 'load', 'lade.mjs'), archive, out],
      before: () => clearOutput(out),
    },
    {
      name: 'skopeo copy',
      cmd: ['skopeo', 'copy', '-q', `docker-archive:${archive}`, `oci:${out}:big`],
      before: () => clearOutput(out),
      peer: true,
    },
  ],
});
