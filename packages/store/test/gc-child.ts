// Child process of concurrency.test.ts: collects garbage in a loop for a while, concurrently with writers.
import { ImageStore } from '../src/index.js';

const [root, ms] = process.argv.slice(2);
const store = await ImageStore.open(root!);
const until = Date.now() + Number(ms);
let runs = 0;
let removed = 0;
while (Date.now() < until) {
  removed += (await store.gc()).removedBlobs.length;
  runs++;
}
process.stdout.write(`${runs} ${removed}\n`);
