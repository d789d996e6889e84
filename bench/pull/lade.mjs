// One `lade pull` equivalent for bench/pull: copy REF from a registry into an OCI layout DIR (tag `big`).
import { copy } from '../../packages/manifest/dist/index.js';
import { registrySource } from '../../packages/registry-client/dist/index.js';
import { ociLayoutSink } from '../../packages/store/dist/index.js';

const [ref, dir, concurrency] = process.argv.slice(2);
const src = registrySource(ref, { credentials: null });
const sink = await ociLayoutSink(dir, 'big');
try {
  await copy(src, sink, { concurrency: Number(concurrency ?? 4) });
} finally {
  await sink.close?.();
  await src.close?.();
}
