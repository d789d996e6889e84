import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

/** A web stream over bytes, cut into chunks of `chunk` bytes (to exercise boundaries). */
export function streamOf(bytes: Uint8Array, chunk = 65536): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (pos >= bytes.length) return c.close();
      c.enqueue(bytes.slice(pos, pos + chunk));
      pos += chunk;
    },
  });
}

export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function fileStream(path: string): ReadableStream<Uint8Array> {
  return Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
