// Fixed-count HTTP GET client for bench/server: node get.mjs URL COUNT CONCURRENCY — keep-alive, body drained, exits non-zero on any non-200.
import { Agent, get } from 'node:http';

const [url, countArg, concArg] = process.argv.slice(2);
const count = Number(countArg ?? 10000);
const concurrency = Number(concArg ?? 32);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
let started = 0;
let failed = 0;
function one() {
  return new Promise((resolve) => {
    get(
      url,
      {
        agent,
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
      },
      (res) => {
        if (res.statusCode !== 200) failed++;
        res.resume();
        res.on('end', resolve);
      },
    ).on('error', () => {
      failed++;
      resolve();
    });
  });
}
async function worker() {
  while (started < count) {
    started++;
    await one();
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
agent.destroy();
if (failed) {
  console.error(`${failed} requests failed`);
  process.exit(1);
}
