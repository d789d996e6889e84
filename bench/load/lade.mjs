// One `lade load` equivalent for bench/load: every image of the archive FILE loaded into the OCI layout DIR.
import { loadArchive } from '../../packages/archive/dist/index.js';
import { ociLayoutSink } from '../../packages/store/dist/index.js';

const [file, dir] = process.argv.slice(2);
await loadArchive(file, async () => ociLayoutSink(dir, 'big'));
