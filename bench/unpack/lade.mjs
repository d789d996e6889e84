// lade unpack of one tag of an OCI layout into a directory, through the built packages.
import { unpackImage } from '../../packages/rootfs/dist/index.js';
import { ociLayoutSource } from '../../packages/store/dist/index.js';

const [layout, tag, out] = process.argv.slice(2);
await unpackImage(await ociLayoutSource(layout, tag), out);
