// bench/save: save `big` (4 layers of random data) from an OCI layout as a docker-archive,
// lade (oci: source of @lade/store → saveImages, Docker 25+ layout) vs `skopeo copy oci:… docker-archive:…`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, clearOutput, runBenchmark, sh, sharedDir, workDir } from './lib.mjs';

const mib = Number(process.env.BENCH_SAVE_MIB ?? 512);
const layout = join(workDir, `fixtures-big${mib}`);
const out = join(workDir, 'save-out.tar');

await runBenchmark({
  name: 'save',
  description: `Save \`big\` (${mib} MiB in 4 layers of random data) from an OCI layout as a docker-archive file: lade (oci: source → saveImages, Docker 25+ layout, blobs as stored) vs \`skopeo copy oci:… docker-archive:…\` (legacy layout, layers decompressed).`,
  goal: "≤ 0.5× skopeo's time; RSS flat",
  command: 'pnpm bench save (BENCH_SAVE_MIB=512)',
  inputBytes: mib * 1024 * 1024,
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  setup() {
    if (!existsSync(join(layout, '.complete'))) {
      sh(['bash', join(sharedDir, 'peers', 'fixtures.sh'), layout, '--big', String(mib)]);
      sh(['touch', join(layout, '.complete')]);
    }
  },
  teardown() {
    sh(['rm', '-f', out]);
  },
  cases: [
    {
      name: 'lade save',
      cmd: [process.execPath, join(benchDir, 'save', 'lade.mjs'), layout, 'big', out],
      before: () => clearOutput(out),
    },
    {
      name: 'skopeo copy',
      cmd: ['skopeo', 'copy', '-q', `oci:${layout}:big`, `docker-archive:${out}:fixtures/big:latest`],
      before: () => clearOutput(out),
      peer: true,
    },
  ],
});
