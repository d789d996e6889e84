// bench/commit: diff + layer creation for a 10k-file change to an unpacked image: lade (diffDirectory against the
// unpack record, diffLayer, gzip) vs `umoci repack` (mtree diff, gzip layer, new manifest) on the same change.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, runBenchmark, sh, workDir } from './lib.mjs';

const files = Number(process.env.BENCH_COMMIT_FILES ?? 10000);
const layout = join(workDir, `commit-base`);
const ladeBundle = join(workDir, 'commit-lade');
const umociBundle = join(workDir, 'commit-umoci');
const out = join(workDir, 'commit-layer.tar.gz');
const rootless = (process.getuid?.() ?? 0) === 0 ? [] : ['--rootless'];

/** The same change in both bundles: `files` new small files in a new tree, and a few edits and deletions. */
function change(rootfs, seed) {
  for (let n = 0, d = 0; n < files; d++) {
    const dir = join(rootfs, 'srv', `app${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 50 && n < files; f++, n++)
      writeFileSync(join(dir, `f${f}.js`), seed.subarray((n * 97) % 4096, ((n * 97) % 4096) + 1 + (n % 4000)));
  }
  writeFileSync(join(rootfs, 'etc-motd'), 'changed\n');
}

await runBenchmark({
  name: 'commit',
  description: `Diff and layer creation for a ${files}-file change to an unpacked image (new tree of small files): lade (diffDirectory against lade-unpack.json, diffLayer, gzip to a file) vs \`umoci repack\` (mtree diff, gzip layer into the layout).`,
  goal: 'faster than umoci repack',
  command: 'node bench/commit.mjs (BENCH_COMMIT_FILES=10000)',
  setup() {
    if (existsSync(join(workDir, 'commit-ready'))) return;
    sh(['rm', '-rf', layout, ladeBundle, umociBundle]);
    sh(['umoci', 'init', '--layout', layout]);
    sh(['umoci', 'new', '--image', `${layout}:base`]);
    sh(['umoci', 'unpack', ...rootless, '--image', `${layout}:base`, umociBundle]);
    writeFileSync(join(umociBundle, 'rootfs', 'etc-motd'), 'hello\n');
    sh(['umoci', 'repack', '--refresh-bundle', '--image', `${layout}:base`, umociBundle]);
    sh([process.execPath, join(benchDir, 'commit', 'unpack.mjs'), layout, 'base', ladeBundle]);
    const seed = randomBytes(8192);
    change(join(umociBundle, 'rootfs'), seed);
    change(join(ladeBundle, 'rootfs'), seed);
    sh(['touch', join(workDir, 'commit-ready')]);
  },
  teardown: () => sh(['rm', '-f', out]),
  cases: [
    { name: 'lade diff + layer', cmd: [process.execPath, join(benchDir, 'commit', 'lade.mjs'), ladeBundle, out] },
    { name: 'umoci repack', cmd: ['umoci', 'repack', '--image', `${layout}:out`, umociBundle], peer: true },
  ],
});
