// One `lade images` worth of work: open the store and list every image (what the CLI does before printing).
import { ImageStore } from '../../packages/store/dist/index.js';

const started = performance.now();
const store = await ImageStore.open(process.argv[2]);
const rows = await store.listImages();
const ms = performance.now() - started;
if (rows.length === 0) throw new Error('no images listed');
process.stderr.write(`listed ${rows.length} rows in ${ms.toFixed(1)} ms (in process)\n`);
