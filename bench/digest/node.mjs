// Hashes a file with raw node:crypto on a node:fs read stream: the baseline lade's stream must approach.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const h = createHash('sha256');
for await (const chunk of createReadStream(process.argv[2], { highWaterMark: 1 << 20 })) h.update(chunk);
console.log(`sha256:${h.digest('hex')}`);
