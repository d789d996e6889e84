import type { FileHandle } from 'node:fs/promises';

const CHUNK = 512 * 1024;

/**
 * A web stream over `[start, end)` of an open file. One read is kept in flight ahead of the reader, so disk reads
 * overlap with whatever the reader does with each chunk (hashing, sending), as node:fs streams do; nothing more is
 * buffered. The handle is closed at the end, on error and on cancel.
 */
export function fileRangeStream(fh: FileHandle, start: number, end: number): ReadableStream<Uint8Array> {
  let pos = start;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => {});
  };
  const readNext = async (): Promise<Uint8Array> => {
    const want = Math.min(CHUNK, end - pos);
    if (want <= 0) return new Uint8Array(0);
    const buf = Buffer.allocUnsafe(want);
    const at = pos;
    pos += want;
    const { bytesRead } = await fh.read(buf, 0, want, at);
    // Fewer bytes than asked: the file shrank under us; ending early lets a verifying reader report the short read.
    if (bytesRead < want) pos = end;
    return new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
  };
  let pending: Promise<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const chunk = await (pending ?? readNext());
          if (chunk.byteLength === 0) {
            pending = undefined;
            await close();
            controller.close();
            return;
          }
          pending = readNext();
          pending.catch(() => {});
          controller.enqueue(chunk);
        } catch (err) {
          pending = undefined;
          await close();
          controller.error(err);
        }
      },
      async cancel() {
        // Let the read in flight settle before the handle closes under it.
        await pending?.catch(() => {});
        pending = undefined;
        await close();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * `reader.read()` that rejects with `makeError()` as soon as `signal` fires, even while the read is pending
 * (a stalled network stream); the caller then cancels the reader.
 */
export function readOrAbort<T>(
  reader: ReadableStreamDefaultReader<T>,
  signal: AbortSignal | undefined,
  makeError: (signal: AbortSignal) => Error,
): Promise<ReadableStreamReadResult<T>> {
  if (!signal) return reader.read();
  if (signal.aborted) return Promise.reject(makeError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(makeError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    reader.read().then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
