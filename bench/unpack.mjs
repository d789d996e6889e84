// bench/unpack: unpack `big` (4 layers of random data) and a debootstrap-sized image of ~10k small files from an
// OCI layout into a directory: lade (@lade/rootfs unpackImage over @lade/store's oci: source) vs `umoci unpack`.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, clearOutput, runBenchmark, sh, sharedDir, workDir } from './lib.mjs';

const mib = Number(process.env.BENCH_UNPACK_MIB ?? 512);
const files = Number(process.env.BENCH_UNPACK_FILES ?? 10000);
const bigLayout = join(workDir, `fixtures-big${mib}`);
const smallLayout = join(workDir, `unpack-small${files}`);
const out = join(workDir, 'unpack-out');
const uid = process.getuid?.() ?? 0;
const rootless = uid === 0 ? [] : ['--rootless'];

function ensureBig() {
  if (!existsSync(join(bigLayout, '.complete'))) {
    sh(['bash', join(sharedDir, 'peers', 'fixtures.sh'), bigLayout, '--big', String(mib)]);
    sh(['touch', join(bigLayout, '.complete')]);
  }
}

/** ~`files` files in a /usr-like tree (dirs of 25 files, sizes 0–16 KiB, a symlink per dir), one layer, made by umoci. */
function ensureSmall() {
  if (existsSync(join(smallLayout, '.complete'))) return;
  sh(['rm', '-rf', smallLayout]);
  const bundle = join(workDir, 'unpack-small-bundle');
  sh(['rm', '-rf', bundle]);
  sh(['umoci', 'init', '--layout', smallLayout]);
  sh(['umoci', 'new', '--image', `${smallLayout}:small`]);
  sh(['umoci', 'unpack', ...rootless, '--image', `${smallLayout}:small`, bundle]);
  const root = join(bundle, 'rootfs');
  let n = 0;
  for (let d = 0; n < files; d++) {
    const dir = join(root, 'usr', `share${d % 7}`, `pkg${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 25 && n < files; f++, n++)
      writeFileSync(join(dir, `file${f}.txt`), randomBytes(Math.floor(Math.random() * 16384)).toString('base64'));
    sh(['ln', '-s', 'file0.txt', join(dir, 'link')]);
  }
  sh(['umoci', 'repack', '--image', `${smallLayout}:small`, bundle]);
  sh(['rm', '-rf', bundle]);
  sh(['touch', join(smallLayout, '.complete')]);
}

const clean = () => clearOutput(out);
/** GNU tar extracting the same gzip layers (found with jq): a native single-threaded extractor, a floor for 0.3×. */
const tarCase = (layoutDir, tag) => ({
  name: 'GNU tar -xzf (reference)',
  cmd: ['sh', join(benchDir, 'unpack', 'tar.sh'), layoutDir, tag, out],
  before: clean,
});
const which = process.env.BENCH_UNPACK_CASE ?? 'both';

if (which === 'both' || which === 'big') {
  await runBenchmark({
    name: 'unpack-big',
    description: `Unpack \`big\` (${mib} MiB in 4 gzip layers of random data) from an OCI layout: lade (unpackImage: diff_id verified in the same pass) vs \`umoci unpack\`.`,
    goal: "≤ 0.3× umoci's time",
    command: 'node bench/unpack.mjs (BENCH_UNPACK_CASE=big BENCH_UNPACK_MIB=512)',
    inputBytes: mib * 1024 * 1024,
    setup: ensureBig,
    teardown: clean,
    cases: [
      {
        name: 'lade unpack',
        cmd: [process.execPath, join(benchDir, 'unpack', 'lade.mjs'), bigLayout, 'big', join(out, 'rootfs')],
        before: clean,
      },
      {
        name: 'umoci unpack',
        cmd: ['umoci', 'unpack', ...rootless, '--image', `${bigLayout}:big`, out],
        before: clean,
        peer: true,
      },
      tarCase(bigLayout, 'big'),
    ],
  });
}
if (which === 'both' || which === 'small') {
  await runBenchmark({
    name: 'unpack-small',
    description: `Unpack a ${files}-file image (one gzip layer, /usr-like tree of small files and symlinks, built with umoci) from an OCI layout: lade vs \`umoci unpack\`.`,
    goal: "≤ 0.3× umoci's time",
    command: 'node bench/unpack.mjs (BENCH_UNPACK_CASE=small BENCH_UNPACK_FILES=10000)',
    setup: ensureSmall,
    teardown: clean,
    cases: [
      {
        name: 'lade unpack',
        cmd: [process.execPath, join(benchDir, 'unpack', 'lade.mjs'), smallLayout, 'small', join(out, 'rootfs')],
        before: clean,
      },
      {
        name: 'umoci unpack',
        cmd: ['umoci', 'unpack', ...rootless, '--image', `${smallLayout}:small`, out],
        before: clean,
        peer: true,
      },
      tarCase(smallLayout, 'small'),
    ],
  });
}
