/** File contents a build copies, kept on disk (never all in memory) until the layer tar streams them. */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** A file's bytes as a stream that opens the file only when first read (a layer may name thousands of files). */
export function lazyFile(path: string): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      reader ??= (Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>).getReader();
      const r = await reader.read();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    async cancel(reason) {
      await reader?.cancel(reason);
    },
  });
}

/** Writes streams to numbered files under a build's work directory. */
export class Spool {
  private n = 0;
  constructor(private readonly dir: string) {}

  /** Stores `body` (read to its end) and returns the file holding it. */
  async write(body: ReadableStream<Uint8Array>): Promise<string> {
    const path = join(this.dir, `spool-${this.n++}`);
    await pipeline(
      Readable.fromWeb(body as unknown as import('node:stream/web').ReadableStream<Uint8Array>),
      createWriteStream(path),
    );
    return path;
  }
}
