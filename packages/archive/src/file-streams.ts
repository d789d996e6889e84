import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';

/** A file (or a byte range of it) as a web stream. */
export function readFileStream(path: string, range?: { start: number; length: number }): ReadableStream<Uint8Array> {
  if (range && range.length === 0) return new ReadableStream({ start: (c) => c.close() });
  const opts = range
    ? { start: range.start, end: range.start + range.length - 1, highWaterMark: 256 * 1024 }
    : { highWaterMark: 256 * 1024 };
  return Readable.toWeb(createReadStream(path, opts)) as ReadableStream<Uint8Array>;
}

/** Reads the first `n` bytes of a file (fewer when it is shorter). */
export async function readFileHead(path: string, n: number, position = 0): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const { bytesRead } = await fh.read(buf, 0, n, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Writes a stream to a file; the file is removed when the stream fails. */
export async function writeStreamToFile(stream: ReadableStream<Uint8Array>, path: string): Promise<void> {
  const out = Writable.toWeb(createWriteStream(path, { highWaterMark: 256 * 1024 })) as WritableStream<Uint8Array>;
  try {
    await stream.pipeTo(out);
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
}

/** Writes a stream to `path` atomically: a temp name beside it, renamed only after the whole stream arrived. */
export async function writeFileAtomic(stream: ReadableStream<Uint8Array>, path: string): Promise<void> {
  const tmp = `${path}.lade-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
  await writeStreamToFile(stream, tmp);
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
