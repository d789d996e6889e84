// bench/images: `lade images` with 1000 images in the store (open + listImages, process wall time) vs `umoci ls`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, repoRoot, runBenchmark, sh, workDir } from './lib.mjs';

const count = Number(process.env.BENCH_IMAGES_COUNT ?? 1000);
const root = join(workDir, `images-store-${count}`);
await runBenchmark({
  name: 'images',
  description: `List a store of ${count} images: \`lade images\` (the CLI, table output) and lade's ImageStore.listImages, each in a fresh node process, vs \`umoci ls --layout\` on the same directory.`,
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
    {
      name: 'lade images (CLI)',
      cmd: [process.execPath, join(repoRoot, 'apps/cli/dist/main.js'), '--root', root, 'images'],
    },
    { name: 'lade listImages (API)', cmd: [process.execPath, join(benchDir, 'images/lade.mjs'), root] },
    { name: 'umoci ls', cmd: ['umoci', 'ls', '--layout', root], peer: true },
  ],
});
