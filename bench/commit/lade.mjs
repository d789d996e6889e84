// lade's half of `lade commit`: diff an unpacked bundle against its record, write the gzip layer blob to a file.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compressLayer } from '../../packages/archive/dist/index.js';
import { diffDirectory, diffLayer, readUnpackRecord } from '../../packages/rootfs/dist/index.js';

const [bundle, out] = process.argv.slice(2);
const rootfs = `${bundle}/rootfs`;
const changes = diffDirectory(rootfs, await readUnpackRecord(`${bundle}/lade-unpack.json`));
const { stream, result } = compressLayer(diffLayer(rootfs, changes), 'gzip');
await pipeline(Readable.fromWeb(stream), createWriteStream(out));
const r = await result;
if (changes.length < 1000) throw new Error(`expected a big change, found ${changes.length} changes`);
process.stderr.write(`${changes.length} changes, layer ${r.digest} ${r.size} bytes\n`);
