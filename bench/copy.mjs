// bench/copy: registry → registry copy of `big` (4 layers of random data) into a fresh repository each run:
// lade with cross-repository mounts (same registry), lade without (to a second registry), and skopeo on the same
// registry (its blob-info cache mounts too), for reference. The ratio is mount / no mount.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, runBenchmark, sh, sharedDir, workDir } from './lib.mjs';

const mib = Number(process.env.BENCH_COPY_MIB ?? process.env.BENCH_PULL_MIB ?? 512);
const portA = Number(process.env.BENCH_REGISTRY_PORT ?? 5395);
const portB = portA + 1;
const layout = join(workDir, `fixtures-big${mib}`);
const registry = join(sharedDir, 'peers', 'registry.sh');
const a = `127.0.0.1:${portA}`;
const b = `127.0.0.1:${portB}`;

await runBenchmark({
  name: 'copy',
  description: `Copy \`big\` (${mib} MiB in 4 layers) between repositories of local docker-registries: lade on one registry (cross-repository mounts), lade to a second registry (every byte moves), and \`skopeo copy docker://… docker://…\` on one registry.`,
  goal: 'with mounts no layer bytes move, so the time does not grow with the image (issue 5: mount vs without)',
  command: 'pnpm bench copy (BENCH_COPY_MIB=512)',
  inputBytes: mib * 1024 * 1024,
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  setup() {
    if (!existsSync(join(layout, '.complete'))) {
      sh(['bash', join(sharedDir, 'peers', 'fixtures.sh'), layout, '--big', String(mib)]);
      sh(['touch', join(layout, '.complete')]);
    }
    for (const [port, dir] of [
      [portA, 'copy-registry-a'],
      [portB, 'copy-registry-b'],
    ]) {
      sh(['bash', registry, 'stop', '--port', String(port)]);
      sh(['rm', '-rf', join(workDir, dir)]);
      sh(['bash', registry, 'start', '--port', String(port), '--dir', join(workDir, dir)]);
    }
    sh(['skopeo', 'copy', '-q', '--dest-tls-verify=false', `oci:${layout}:big`, `docker://${a}/fixtures/big:latest`]);
  },
  teardown() {
    for (const [port, dir] of [
      [portA, 'copy-registry-a'],
      [portB, 'copy-registry-b'],
    ]) {
      sh(['bash', registry, 'stop', '--port', String(port)]);
      sh(['rm', '-rf', join(workDir, dir)]);
    }
  },
  cases: [
    {
      name: 'lade copy (mount)',
      cmd: [process.execPath, join(benchDir, 'copy', 'lade.mjs'), `${a}/fixtures/big:latest`, `${a}/copies/lade`],
    },
    {
      name: 'lade copy (no mount)',
      cmd: [process.execPath, join(benchDir, 'copy', 'lade.mjs'), `${a}/fixtures/big:latest`, `${b}/copies/lade`],
      peer: true,
    },
    {
      name: 'skopeo copy (same registry)',
      cmd: [
        'sh',
        '-c',
        `skopeo copy -q --src-tls-verify=false --dest-tls-verify=false docker://${a}/fixtures/big:latest docker://${a}/copies/skopeo-$(date +%s%N):latest`,
      ],
    },
  ],
});
