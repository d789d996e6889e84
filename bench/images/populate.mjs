// Fills a store with N small, distinct images (one layer, a config, a manifest each) through the store's own sink.
import { copy, MemoryImageStore } from '../../packages/manifest/dist/index.js';
import { ImageStore } from '../../packages/store/dist/index.js';

const [root, countArg] = process.argv.slice(2);
const count = Number(countArg ?? 1000);
const store = await ImageStore.open(root, { fsync: false });
const enc = new TextEncoder();
const mem = new MemoryImageStore();
for (let i = 0; i < count; i++) {
  mem.putImage({ layers: [enc.encode(`layer of image ${i}`)], labels: { index: String(i) }, tag: `t${i}` });
  const sink = store.sink(`bench/app${i % 50}:v${i}`);
  await copy(mem.source(`t${i}`), sink);
  await sink.close();
}
console.log(`populated ${count} images in ${root}`);
