import { Registry } from './dist/index.js';
import { createHash } from 'node:crypto';
const host = process.argv[2];
const size = 16 * 1024 * 1024;
const mode = process.argv[3];
const chunk = Number(process.argv[4] ?? 16);
const r = new Registry(host, { credentials: null, chunkSize: chunk * 1024 * 1024 });
const blobs = [0, 1, 2, 3].map((i) => { const b = new Uint8Array(size); for (let j = 0; j < size; j += 4096) b[j] = (i * 7 + j) & 255; b[5] = Date.now() & 255; b[6] = process.pid & 255; return b; });
const t = performance.now();
await Promise.all(blobs.map(async (b) => {
  const digest = 'sha256:' + createHash('sha256').update(b).digest('hex');
  const stream = new ReadableStream({ start(c) { for (let o = 0; o < b.length; o += 65536) c.enqueue(b.subarray(o, o + 65536)); c.close(); } });
  await r.uploadBlob('bench/x', { digest, size: b.length }, mode === 'bytes' ? b : stream);
}));
console.log(mode, chunk, (performance.now() - t).toFixed(0), 'ms');
await r.close();
