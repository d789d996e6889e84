// Hashes a file through @lade/digest's hashingStream: a web ReadableStream of the file (one read kept in flight,
// as node:fs streams do) piped through hashingStream.
import { open } from 'node:fs/promises';
import { hashingStream } from '../../packages/digest/dist/index.js';

const CHUNK = 1 << 20;
const fh = await open(process.argv[2]);
const readNext = () => {
  const buf = Buffer.allocUnsafeSlow(CHUNK);
  return fh.read(buf, 0, CHUNK, null).then(({ bytesRead }) => buf.subarray(0, bytesRead));
};
let pending = readNext();
const file = new ReadableStream({
  async pull(controller) {
    const chunk = await pending;
    if (chunk.byteLength === 0) {
      await fh.close();
      controller.close();
      return;
    }
    pending = readNext();
    controller.enqueue(chunk);
  },
});
const h = hashingStream();
const reader = file.pipeThrough(h).getReader();
for (;;) if ((await reader.read()).done) break;
console.log((await h.result).digest);
