// bench/images: `lade images` with 1000 images in the store (open + listImages, process wall time) vs `umoci ls`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, runBenchmark, sh, workDir } from './lib.mjs';

const count = Number(process.env.BENCH_IMAGES_COUNT ?? 1000);
const root = join(workDir, `images-store-${count}`);
await runBenchmark({
  name: 'images',
  description: `List a store of ${count} images (open the OCI layout, read index.json, build every row): lade's ImageStore.listImages in a fresh node process vs \`umoci ls --layout\` on the same directory.`,
  goal: 'lade images < 200 ms with 1000 images',
  rounds: 5,
  setup() {
    if (!existsSync(join(root, '.populated'))) {
      sh(['rm', '-rf', root]);
      sh([process.execPath, join(benchDir, 'images/populate.mjs'), root, String(count)]);
      sh(['touch', join(root, '.populated')]);
    }
  },
  cases: [
    { name: 'lade listImages', cmd: [process.execPath, join(benchDir, 'images/lade.mjs'), root] },
    { name: 'umoci ls', cmd: ['umoci', 'ls', '--layout', root], peer: true },
  ],
});
