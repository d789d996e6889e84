// bench/pull: pull `big` (4 layers of incompressible data) from a local docker-registry into an OCI layout,
// lade (registrySource → copy → the store's oci: sink) vs `skopeo copy docker://… oci:…`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, clearOutput, runBenchmark, sh, sharedDir, workDir } from './lib.mjs';

const mib = Number(process.env.BENCH_PULL_MIB ?? 512);
const port = Number(process.env.BENCH_REGISTRY_PORT ?? 5391);
const layout = join(workDir, `fixtures-big${mib}`);
const data = join(workDir, 'pull-registry');
const out = join(workDir, 'pull-out');
const host = `127.0.0.1:${port}`;
const registry = join(sharedDir, 'peers', 'registry.sh');

await runBenchmark({
  name: 'pull',
  description: `Pull \`big\` (${mib} MiB in 4 layers of random data) from a local docker-registry into an OCI layout: lade (registrySource → copy → oci: sink of @lade/store, 4 blobs in flight) vs \`skopeo copy docker://… oci:…\`.`,
  goal: "≤ 0.5× skopeo's time, peak RSS < 150 MB",
  command: 'pnpm bench pull (BENCH_PULL_MIB=512)',
  inputBytes: mib * 1024 * 1024,
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  setup() {
    if (!existsSync(join(layout, '.complete'))) {
      sh(['bash', join(sharedDir, 'peers', 'fixtures.sh'), layout, '--big', String(mib)]);
      sh(['touch', join(layout, '.complete')]);
    }
    sh(['bash', registry, 'stop', '--port', String(port)]);
    sh(['rm', '-rf', data]);
    sh(['bash', registry, 'start', '--port', String(port), '--dir', data]);
    sh([
      'skopeo',
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `oci:${layout}:big`,
      `docker://${host}/fixtures/big:latest`,
    ]);
  },
  teardown() {
    sh(['bash', registry, 'stop', '--port', String(port)]);
    sh(['rm', '-rf', data, out]);
  },
  cases: [
    {
      name: 'lade pull',
      cmd: [process.execPath, join(benchDir, 'pull', 'lade.mjs'), `${host}/fixtures/big:latest`, out],
      before: () => clearOutput(out),
    },
    {
      name: 'skopeo copy',
      cmd: ['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${host}/fixtures/big:latest`, `oci:${out}:big`],
      before: () => clearOutput(out),
      peer: true,
    },
    {
      // Not the goal's yardstick: skopeo with its output made durable, as lade's is (lade fsyncs every blob).
      name: 'skopeo copy, then sync',
      cmd: [
        'bash',
        '-c',
        `skopeo copy -q --src-tls-verify=false docker://${host}/fixtures/big:latest oci:${out}:big && sync`,
      ],
      before: () => clearOutput(out),
    },
  ],
});
