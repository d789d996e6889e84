// One `lade copy docker://… docker://…` equivalent for bench/copy: SRC to a fresh repository DST_PREFIX-<time>.
import { copy } from '../../packages/manifest/dist/index.js';
import { RegistryClient, registrySink, registrySource } from '../../packages/registry-client/dist/index.js';

const [src, dstPrefix] = process.argv.slice(2);
const client = new RegistryClient({ credentials: null });
const dst = `${dstPrefix}-${process.hrtime.bigint()}:latest`;
try {
  await copy(registrySource(src, { client }), registrySink(dst, { client }), { concurrency: 4 });
} finally {
  await client.close();
}
