// Child process of crash.test.ts: works on a store until killed (mode "loop") or pulls one image and exits ("once").
import { randomBytes } from 'node:crypto';
import { copy, MemoryImageStore } from '@lade/manifest';
import { ImageStore } from '../src/index.js';
import { putTestImage } from './helpers.js';

const [root, mode] = process.argv.slice(2);
const store = await ImageStore.open(root!);

async function pullNew(name: string, layerBytes: number): Promise<void> {
  const mem = new MemoryImageStore();
  const layers = [
    randomBytes(layerBytes).toString('base64'),
    randomBytes(layerBytes / 4).toString('base64'),
    'shared base layer',
  ];
  putTestImage(mem, { tag: 'x', layers, created: new Date().toISOString() });
  const sink = store.sink(name, { repoDigest: mem.resolve('x')!.digest });
  try {
    await copy(mem.source('x'), sink, { concurrency: 3 });
  } finally {
    await sink.close?.();
  }
}

if (mode === 'once') {
  await pullNew('final:1', 256 * 1024);
  process.stdout.write('done\n');
} else {
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    await pullNew(`app:${i % 3}`, 1024 * 1024);
    if (i % 2 === 1) await store.tag(`app:${i % 3}`, `other:${i}`);
    if (i % 3 === 2) await store.remove(`other:${i - 1}`).catch(() => {});
    // Deleting an image's last name deletes the image and sweeps its blobs at once.
    if (i % 3 === 0) await store.remove(`app:${(i + 1) % 3}`).catch(() => {});
    if (i % 4 === 3) await store.prune();
    if (i % 5 === 4) await store.gc();
  }
}
