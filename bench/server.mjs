// bench/server: lade-server vs Debian's docker-registry on the same machine, same clients:
//   manifest GET by tag (wrk -c32 when installed, plus a fixed-count Node client for the timed table),
//   blob GET of 128 MiB (curl), skopeo push of `big` into a fresh registry, idle RSS and RSS under load.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchDir, repoRoot, runBenchmark, sh, sharedDir, workDir } from './lib.mjs';

const mib = Number(process.env.BENCH_SERVER_MIB ?? 512);
const ladePort = Number(process.env.BENCH_LADE_PORT ?? 5481);
const distPort = Number(process.env.BENCH_DIST_PORT ?? 5482);
const layout = join(workDir, `fixtures-big${mib}`);
const registrySh = join(sharedDir, 'peers', 'registry.sh');
const ladeMain = join(repoRoot, 'apps', 'server', 'dist', 'main.js');
const ladeHost = `127.0.0.1:${ladePort}`;
const distHost = `127.0.0.1:${distPort}`;
const blobMiB = 128;
const getClient = join(benchDir, 'server', 'get.mjs');
const requests = Number(process.env.BENCH_SERVER_REQUESTS ?? 10000);

if (!existsSync(ladeMain)) throw new Error('build the server first: (cd apps/server && npx tsup)');
if (!existsSync(join(layout, '.complete'))) {
  sh(['bash', join(sharedDir, 'peers', 'fixtures.sh'), layout, '--big', String(mib)]);
  sh(['touch', join(layout, '.complete')]);
}

let lade;
process.on('exit', () => {
  lade?.kill('SIGKILL');
  spawnSync('bash', [registrySh, 'stop', '--port', String(distPort)]);
});
const ladeData = (n) => join(workDir, `server-lade-${n}`);
const distData = (n) => join(workDir, `server-dist-${n}`);
let generation = 0;

async function startLade(dir) {
  lade?.kill('SIGTERM');
  if (lade) await new Promise((r) => lade.once('exit', r));
  sh(['rm', '-rf', dir]);
  lade = spawn(process.execPath, [ladeMain, '--root', dir, '--addr', ladeHost, '--no-access-log'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  lade.stderr.on('data', (c) => (err += c));
  for (let i = 0; i < 100 && !err.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
  if (!err.includes('listening')) throw new Error(`lade-server did not start: ${err}`);
}
function startDist(dir) {
  sh(['bash', registrySh, 'stop', '--port', String(distPort)]);
  sh(['rm', '-rf', dir]);
  sh(['bash', registrySh, 'start', '--port', String(distPort), '--dir', dir]);
}
function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) / 1024).toFixed(0) : 'n/a';
}
const distPid = () =>
  Number(readFileSync(join(process.env.TMPDIR ?? '/tmp', `lade-peer-registry-${distPort}`, 'pid'), 'utf8'));
function push(host, tag) {
  sh([
    'skopeo',
    'copy',
    '-q',
    '--dest-tls-verify=false',
    `oci:${layout}:${tag}`,
    `docker://${host}/fixtures/${tag}:latest`,
  ]);
}
function wrk(url) {
  const r = spawnSync('wrk', ['-t2', '-c32', '-d8s', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', url], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return undefined;
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout);
  return m ? Number(m[1]) : undefined;
}

// One populated pair for the GET benchmarks.
await startLade(ladeData('get'));
startDist(distData('get'));
for (const host of [ladeHost, distHost]) push(host, 'tricky');
const blob = join(workDir, 'server-blob128');
sh(['dd', 'if=/dev/urandom', `of=${blob}`, 'bs=1M', `count=${blobMiB}`, 'status=none']);
const blobDigest = `sha256:${sh(['sha256sum', blob]).split(' ')[0]}`;
for (const host of [ladeHost, distHost]) {
  const post = await fetch(`http://${host}/v2/bench/blob/blobs/uploads/`, { method: 'POST' });
  const put = new URL(post.headers.get('location'), `http://${host}`);
  put.searchParams.set('digest', blobDigest);
  const res = await fetch(put, {
    method: 'PUT',
    body: readFileSync(blob),
    headers: { 'Content-Type': 'application/octet-stream' },
  });
  if (res.status !== 201) throw new Error(`blob upload to ${host}: ${res.status}`);
}
const idle = { lade: rssMiB(lade.pid), dist: rssMiB(distPid()) };
const haveWrk = spawnSync('sh', ['-c', 'command -v wrk']).status === 0;
const wrkLade = haveWrk ? wrk(`http://${ladeHost}/v2/fixtures/tricky/manifests/latest`) : undefined;
const wrkDist = haveWrk ? wrk(`http://${distHost}/v2/fixtures/tricky/manifests/latest`) : undefined;
const loaded = { lade: rssMiB(lade.pid), dist: rssMiB(distPid()) };
const wrkLine =
  wrkLade && wrkDist
    ? `wrk -t2 -c32 -d8s manifest GET by tag: lade-server ${wrkLade.toFixed(0)} req/s, docker-registry ${wrkDist.toFixed(0)} req/s (${(wrkLade / wrkDist).toFixed(2)}× — goal ≥ 5×). `
    : 'wrk not installed. ';
const rssLine = `RSS: idle lade-server ${idle.lade} MB / docker-registry ${idle.dist} MB; after wrk lade-server ${loaded.lade} MB / docker-registry ${loaded.dist} MB.`;
console.log(wrkLine + rssLine);

await runBenchmark({
  name: 'server-manifest-get',
  description: `${requests} manifest GETs by tag over 32 keep-alive connections (Node client, same for both): lade-server (filesystem) vs docker-registry (filesystem). ${wrkLine}${rssLine}`,
  goal: '≥ 5× distribution’s req/s (≤ 0.2× the time)',
  command: 'node bench/server.mjs',
  cases: [
    {
      name: 'lade-server',
      cmd: [
        process.execPath,
        getClient,
        `http://${ladeHost}/v2/fixtures/tricky/manifests/latest`,
        String(requests),
        '32',
      ],
    },
    {
      name: 'docker-registry',
      cmd: [
        process.execPath,
        getClient,
        `http://${distHost}/v2/fixtures/tricky/manifests/latest`,
        String(requests),
        '32',
      ],
      peer: true,
    },
  ],
});

/** Blob GETs per curl run (one keep-alive connection). */
const GETS = 8;
const curlGets = (url) => ['curl', '-sf', ...Array.from({ length: GETS }, () => ['-o', '/dev/null', url]).flat()];

await runBenchmark({
  name: 'server-blob-get',
  description: `${GETS} GETs of one ${blobMiB} MiB blob by one curl (one keep-alive connection) to /dev/null: lade-server (filesystem) vs docker-registry (filesystem).`,
  goal: '≥ 1.0× distribution’s throughput',
  command: 'node bench/server.mjs',
  inputBytes: GETS * blobMiB * 1024 * 1024,
  // One curl fetches the blob 8 times over one connection: a single ~60 ms GET was mostly curl's own start-up, and
  // 3 rounds of it swung the ratio between 0.83× and 1.48× the time.
  rounds: Number(process.env.BENCH_ROUNDS ?? 5),
  cases: [
    {
      name: 'lade-server',
      cmd: curlGets(`http://${ladeHost}/v2/bench/blob/blobs/${blobDigest}`),
    },
    {
      name: 'docker-registry',
      cmd: curlGets(`http://${distHost}/v2/bench/blob/blobs/${blobDigest}`),
      peer: true,
    },
  ],
});

await runBenchmark({
  name: 'server-push',
  description: `\`skopeo copy\` of \`big\` (${mib} MiB in 4 random layers) from an OCI layout into a fresh, empty registry: lade-server vs docker-registry (both filesystem).`,
  goal: '≤ 0.5× distribution’s time',
  command: 'node bench/server.mjs (BENCH_SERVER_MIB=512)',
  inputBytes: mib * 1024 * 1024,
  cases: [
    {
      name: 'lade-server',
      cmd: [
        'skopeo',
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `oci:${layout}:big`,
        `docker://${ladeHost}/fixtures/big:latest`,
      ],
      before: () => startLade(ladeData(`push${generation++}`)),
    },
    {
      name: 'docker-registry',
      cmd: [
        'skopeo',
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `oci:${layout}:big`,
        `docker://${distHost}/fixtures/big:latest`,
      ],
      before: () => startDist(distData(`push${generation++}`)),
      peer: true,
    },
    {
      // The client's own floor: skopeo reading and hashing the same image into a local directory, no registry at all.
      name: 'skopeo copy to dir: (no server, reference)',
      cmd: ['skopeo', 'copy', '-q', `oci:${layout}:big`, `dir:${join(workDir, 'server-push-dir')}`],
      before: () => sh(['rm', '-rf', join(workDir, 'server-push-dir')]),
    },
  ],
  teardown: async () => {
    lade?.kill('SIGTERM');
    sh(['bash', registrySh, 'stop', '--port', String(distPort)]);
    sh(['sh', '-c', `rm -rf ${workDir}/server-lade-* ${workDir}/server-dist-* ${workDir}/server-push-dir ${blob}`]);
  },
});
