// One `lade save` equivalent for bench/save: the image REF of the OCI layout DIR saved as a docker-archive FILE.
import { saveImages } from '../../packages/archive/dist/index.js';
import { ociLayoutSource } from '../../packages/store/dist/index.js';

const [dir, ref, file, format] = process.argv.slice(2);
const source = await ociLayoutSource(dir, ref);
try {
  await saveImages([{ source, names: [`fixtures/${ref}:latest`] }], file, {
    format: format ?? 'docker',
    copy: { concurrency: 4 },
  });
} finally {
  await source.close?.();
}
