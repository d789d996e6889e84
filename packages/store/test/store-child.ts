// Child process of concurrency.test.ts: adds tags to one store, and pulls a private image, concurrently with siblings.
import { copy, MemoryImageStore } from '@lade/manifest';
import { ImageStore } from '../src/index.js';
import { putTestImage } from './helpers.js';

const [root, id, times] = process.argv.slice(2);
const store = await ImageStore.open(root!);
for (let i = 0; i < Number(times); i++) await store.tag('base:1', `p${id}/tag:${i}`);
const mem = new MemoryImageStore();
putTestImage(mem, { tag: 'x', layers: [`private layer of ${id}`, 'shared layer'] });
const sink = store.sink(`own/p${id}:1`);
await copy(mem.source('x'), sink);
await sink.close?.();
