// One `lade push` equivalent for bench/push: copy the `big` image of an OCI layout DIR to a registry REF.
import { copy } from '../../packages/manifest/dist/index.js';
import { registrySink } from '../../packages/registry-client/dist/index.js';
import { ociLayoutSource } from '../../packages/store/dist/index.js';

const [dir, ref, concurrency, chunkMiB] = process.argv.slice(2);
const src = await ociLayoutSource(dir, 'big');
const sink = registrySink(ref, {
  credentials: null,
  ...(chunkMiB ? { chunkSize: Number(chunkMiB) * 1024 * 1024 } : {}),
});
try {
  await copy(src, sink, { concurrency: Number(concurrency ?? 4) });
} finally {
  await sink.close?.();
  await src.close?.();
}
