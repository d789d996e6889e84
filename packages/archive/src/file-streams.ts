import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { markOwnedChunks, slabPool } from '@lade/manifest';

/** Bytes per read of {@link readFileStream}. */
const READ_CHUNK = 512 * 1024;
const slabs = slabPool(READ_CHUNK);
/** Bytes gathered before one write of {@link writeStreamToFile}. */
const WRITE_BATCH = 1024 * 1024;

/**
 * A file (or a byte range of it) as a web stream, one chunk read ahead: unlike `Readable.toWeb()` over a file stream,
 * no chunk is copied again (Node's adapter copies every chunk to detach it from the buffer pool). Each chunk is a slab
 * of a pool, handed over with ownership (@lade/manifest's owned chunks): a reader that releases it lets the next read
 * use the same memory.
 */
export function readFileStream(path: string, range?: { start: number; length: number }): ReadableStream<Uint8Array> {
  let fh: FileHandle | undefined;
  let pos = range?.start ?? 0;
  const end = range ? range.start + range.length : Number.POSITIVE_INFINITY;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh?.close().catch(() => {});
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          fh ??= await open(path, 'r');
          const want = Math.min(READ_CHUNK, end - pos);
          if (want <= 0) {
            await close();
            controller.close();
            return;
          }
          // Each read fills a slab of its own, used again once the reader releases the chunk (owned chunks).
          const slab = slabs.take();
          let bytesRead = 0;
          let chunk: Uint8Array | undefined;
          try {
            ({ bytesRead } = await fh.read(slab.bytes, 0, want, pos));
            if (bytesRead > 0) chunk = slab.cut(0, bytesRead);
          } finally {
            slab.seal(); // after the cut: a sealed slab with no chunk out goes straight back to the pool
          }
          if (!chunk) {
            // End of file (or a file that shrank): callers that know the size report the short read.
            await close();
            controller.close();
            return;
          }
          pos += bytesRead;
          controller.enqueue(chunk);
        } catch (err) {
          await close();
          controller.error(err);
        }
      },
      async cancel() {
        await close();
      },
    },
    // One chunk read ahead, so the next disk read overlaps with the consumer.
    { highWaterMark: 1 },
  );
  return markOwnedChunks(stream);
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

/**
 * Writes a stream to a file; the file is removed when the stream fails. Chunks are gathered into ~1 MiB `writev`
 * calls with one write in flight while the next chunks are read, so the disk works while the source produces.
 */
export async function writeStreamToFile(
  stream: ReadableStream<Uint8Array>,
  path: string,
  options: { onWritten?: (bytes: number) => void } = {},
): Promise<void> {
  const fh = await open(path, 'w');
  const reader = stream.getReader();
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let position = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    const buffers = batch;
    const at = position;
    position += batchBytes;
    const end = position;
    batch = [];
    batchBytes = 0;
    await inFlight;
    const pending = writeFully(fh, buffers, at).then(() => options.onWritten?.(end));
    pending.catch(() => {}); // observed by the next flush or the final wait
    inFlight = pending;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.byteLength === 0) continue;
      batch.push(value);
      batchBytes += value.byteLength;
      if (batchBytes >= WRITE_BATCH) await flush();
    }
    if (batchBytes > 0) await flush();
    await inFlight;
    await fh.close();
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    await inFlight.catch(() => {});
    await fh.close().catch(() => {});
    await rm(path, { force: true });
    throw e;
  }
}

async function writeFully(fh: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let rest = buffers;
  let pos = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, pos);
    if (bytesWritten === 0) throw new Error('write made no progress (is the disk full?)');
    pos += bytesWritten;
    let skip = bytesWritten;
    const next: Uint8Array[] = [];
    for (const b of rest) {
      if (skip >= b.byteLength) {
        skip -= b.byteLength;
        continue;
      }
      next.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}

/** Hooks of {@link writeFileAtomic}. */
export interface AtomicWriteHooks {
  /** The temp file's path, before anything is written to it. */
  readonly onTemp?: (tempPath: string) => void;
  /** The temp file holds the stream's first `bytes` bytes (called in order as writes complete). */
  readonly onWritten?: (bytes: number) => void;
  /** Runs once the whole stream is written, before the rename; a rejection removes the temp file instead. */
  readonly beforeCommit?: () => Promise<void>;
}

/** Writes a stream to `path` atomically: a temp name beside it, renamed only after the whole stream arrived. */
export async function writeFileAtomic(
  stream: ReadableStream<Uint8Array>,
  path: string,
  hooks: AtomicWriteHooks = {},
): Promise<void> {
  const tmp = `${path}.lade-${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
  hooks.onTemp?.(tmp);
  await writeStreamToFile(stream, tmp, hooks.onWritten ? { onWritten: hooks.onWritten } : {});
  try {
    await hooks.beforeCommit?.();
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
