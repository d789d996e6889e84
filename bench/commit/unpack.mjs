// Unpacks a tag of an OCI layout into BUNDLE/rootfs with BUNDLE/lade-unpack.json, as `lade unpack` does.
import { unpackImage } from '../../packages/rootfs/dist/index.js';
import { ociLayoutSource } from '../../packages/store/dist/index.js';

const [layout, tag, bundle] = process.argv.slice(2);
await unpackImage(await ociLayoutSource(layout, tag), `${bundle}/rootfs`, { recordPath: `${bundle}/lade-unpack.json` });
