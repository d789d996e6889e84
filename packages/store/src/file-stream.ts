import type { FileHandle } from 'node:fs/promises';

const CHUNK = 512 * 1024;

/**
 * A web stream over `[start, end)` of an open file. Reads one chunk ahead of the reader (backpressure is the
 * reader's pace) and closes the handle at the end, on error and on cancel.
 */
export function fileRangeStream(fh: FileHandle, start: number, end: number): ReadableStream<Uint8Array> {
  let pos = start;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => {});
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const want = Math.min(CHUNK, end - pos);
          if (want <= 0) {
            await close();
            controller.close();
            return;
          }
          const buf = Buffer.allocUnsafeSlow(want); // not zero-filled, never from the shared pool
          const { bytesRead } = await fh.read(buf, 0, want, pos);
          if (bytesRead === 0) {
            // The file shrank under us: end early; a verifying reader reports the short read.
            await close();
            controller.close();
            return;
          }
          pos += bytesRead;
          controller.enqueue(new Uint8Array(buf.buffer, buf.byteOffset, bytesRead));
        } catch (err) {
          await close();
          controller.error(err);
        }
      },
      async cancel() {
        await close();
      },
    },
    // One chunk read ahead, so the next disk read overlaps with the consumer (save: 0.88 → 0.82 s for 512 MiB; peak
    // RSS unchanged at ~100 MB now that writers batch).
    { highWaterMark: 1 },
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
