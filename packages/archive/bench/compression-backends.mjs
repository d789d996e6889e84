// Measures gzip compress/decompress throughput of the node:zlib and portable (fflate) backends on 64 MiB; run after `npx tsup`.
import { compressStream, decompressStream } from '../dist/index.js';

const N = 64 << 20;
const data = new Uint8Array(N);
let x = 1;
for (let i = 0; i < N; i++) {
  x = (x * 1103515245 + 12345) >>> 0;
  data[i] = (x >>> 24) & 0x3f;
}
const src = () => {
  let p = 0;
  return new ReadableStream({
    pull(c) {
      if (p >= N) return c.close();
      c.enqueue(data.subarray(p, p + 65536));
      p += 65536;
    },
  });
};
const drain = async (s) => {
  let n = 0;
  for await (const c of s) n += c.length;
  return n;
};
let gz;
for (const backend of ['node', 'portable']) {
  let t = performance.now();
  const parts = [];
  for await (const c of compressStream(src(), 'gzip', { backend })) parts.push(c);
  const ct = performance.now() - t;
  gz = Buffer.concat(parts);
  const gsrc = () => {
    let p = 0;
    return new ReadableStream({
      pull(c) {
        if (p >= gz.length) return c.close();
        c.enqueue(gz.subarray(p, p + 65536));
        p += 65536;
      },
    });
  };
  t = performance.now();
  await drain(decompressStream(gsrc(), 'gzip', { backend }));
  const dt = performance.now() - t;
  console.log(
    `${backend}: compress ${(N / 1048576 / (ct / 1000)).toFixed(0)} MB/s (${ct.toFixed(0)} ms), decompress ${(N / 1048576 / (dt / 1000)).toFixed(0)} MB/s (${dt.toFixed(0)} ms)`,
  );
}
