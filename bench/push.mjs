// bench/push: push `big` (4 layers of incompressible data) from an OCI layout to an empty local docker-registry,
// lade (the store's oci: source → copy → registrySink) vs `skopeo copy oci:… docker://…`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, runBenchmark, sh, sharedDir, workDir } from './lib.mjs';

const mib = Number(process.env.BENCH_PUSH_MIB ?? process.env.BENCH_PULL_MIB ?? 512);
const port = Number(process.env.BENCH_REGISTRY_PORT ?? 5392);
const layout = join(workDir, `fixtures-big${mib}`);
const data = join(workDir, 'push-registry');
const host = `127.0.0.1:${port}`;
const registry = join(sharedDir, 'peers', 'registry.sh');
// Every run pushes into a fresh, empty registry.
const freshRegistry = () => {
  sh(['bash', registry, 'stop', '--port', String(port)]);
  sh(['rm', '-rf', data]);
  sh(['bash', registry, 'start', '--port', String(port), '--dir', data]);
};

await runBenchmark({
  name: 'push',
  description: `Push \`big\` (${mib} MiB in 4 layers of random data) from an OCI layout to an empty local docker-registry: lade (oci: source of @lade/store → copy → registrySink, chunked PATCH uploads) vs \`skopeo copy oci:… docker://…\`.`,
  goal: "≤ 0.9× skopeo's time",
  command: 'pnpm bench push (BENCH_PUSH_MIB=512)',
  inputBytes: mib * 1024 * 1024,
  rounds: Number(process.env.BENCH_ROUNDS ?? 3),
  setup() {
    if (!existsSync(join(layout, '.complete'))) {
      sh(['bash', join(sharedDir, 'peers', 'fixtures.sh'), layout, '--big', String(mib)]);
      sh(['touch', join(layout, '.complete')]);
    }
  },
  teardown() {
    sh(['bash', registry, 'stop', '--port', String(port)]);
    sh(['rm', '-rf', data]);
  },
  cases: [
    {
      name: 'lade push',
      cmd: [process.execPath, join(benchDir, 'push', 'lade.mjs'), layout, `${host}/bench/big:latest`],
      before: freshRegistry,
    },
    {
      name: 'skopeo copy',
      cmd: [
        'skopeo',
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `oci:${layout}:big`,
        `docker://${host}/bench/big:latest`,
      ],
      before: freshRegistry,
      peer: true,
    },
  ],
});
