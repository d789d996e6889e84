import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import {
  contentErrors,
  DIGEST_HEX_LENGTH,
  type Digest,
  type DigestAlgorithm,
  digestAlgorithm,
  digestHex,
  fileHasher,
  isDigest,
  parseDigest,
  verifyingStream,
} from '@lade/digest';
import { ownsChunks, releaseChunk } from '@lade/manifest';
import type { BlobInfo, BlobStore, ByteRange, IngestExpectation, IngestOptions } from './blob-store.js';
import { AbortedError, BlobUnknownError, RangeInvalidError } from './errors.js';
import { fileRangeStream, readOrAbort } from './file-stream.js';

const ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];

/** Name of the directory (beside `blobs/`) where ingests write before they are verified and renamed. */
export const INGEST_DIR = '.lade-ingest';

/** Options of {@link FsBlobStore}. */
export interface FsBlobStoreOptions {
  /** fsync file and directory on ingest (default true); turn off only for throwaway stores. */
  readonly fsync?: boolean;
}

/** A leftover ingest file: an interrupted or in-progress write. */
export interface IngestTempFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  /** The process that wrote it (from its name), when known. */
  readonly pid?: number;
}

/** A file under `blobs/` that is not a blob (a name that is no digest, or a directory). */
export interface StrayBlobEntry {
  readonly path: string;
  readonly size: number;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

function abortError(signal: AbortSignal, what: string): AbortedError {
  return new AbortedError(`${what} was aborted`, { cause: signal.reason });
}

/**
 * Blobs on a filesystem as an OCI image layout stores them: `DIR/blobs/<algorithm>/<hex>`.
 * Ingest writes to `DIR/.lade-ingest/` (same filesystem), verifies size and digest while streaming,
 * fsyncs, renames into place and fsyncs the directory, so a crash leaves only temp files behind.
 *
 * @example
 * const blobs = new FsBlobStore('/var/lib/registry');
 * await blobs.ingest({ digest, size }, response.body);
 * const part = await blobs.read(digest, { start: 0, end: 1024 });
 */
export class FsBlobStore implements BlobStore {
  readonly dir: string;
  readonly #fsync: boolean;

  constructor(dir: string, options: FsBlobStoreOptions = {}) {
    this.dir = dir;
    this.#fsync = options.fsync ?? true;
  }

  /** Where a blob lives (whether or not it exists). */
  blobPath(digest: Digest): string {
    const d = parseDigest(digest);
    return join(this.dir, 'blobs', digestAlgorithm(d), digestHex(d));
  }

  /** The directory of in-flight and abandoned ingests. */
  get ingestDir(): string {
    return join(this.dir, INGEST_DIR);
  }

  async has(digest: Digest): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.blobPath(digest));
      return s.isFile() ? { digest, size: s.size } : undefined;
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
      throw err;
    }
  }

  async read(digest: Digest, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.blobPath(digest), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) {
        throw new BlobUnknownError(`blob ${digest} is not in ${this.dir}; pull or copy the image again`);
      }
      throw err;
    }
    try {
      const { size } = await fh.stat();
      const start = range?.start ?? 0;
      const end = range?.end ?? size;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > size) {
        throw new RangeInvalidError(`range ${start}-${end} is outside blob ${digest} of ${size} bytes`);
      }
      return fileRangeStream(fh, start, end);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Refreshes a blob's modification time (tells a concurrent GC the blob is in use); false when absent. */
  async touch(digest: Digest): Promise<boolean> {
    const now = new Date();
    try {
      await utimes(this.blobPath(digest), now, now);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async ingest(
    expected: IngestExpectation,
    content: ReadableStream<Uint8Array>,
    options: IngestOptions = {},
  ): Promise<BlobInfo> {
    const digest = parseDigest(expected.digest);
    const verifier = verifyingStream({
      digest,
      ...(expected.size !== undefined ? { size: expected.size } : {}),
      name: `blob ${digest}`,
    });
    const existing = await this.stat(digest);
    if (existing && (expected.size === undefined || existing.size === expected.size)) {
      // Present: still read the content through the verifier so a bad upload is reported, but write nothing.
      await this.#drain(content.pipeThrough(verifier), options, ownsChunks(content));
      await this.touch(digest);
      return existing;
    }
    await mkdir(this.ingestDir, { recursive: true });
    const temp = join(
      this.ingestDir,
      `${process.pid}-${digestHex(digest).slice(0, 16)}-${randomBytes(6).toString('hex')}.tmp`,
    );
    const fh = await open(temp, 'wx', 0o644);
    let closed = false;
    // Big blobs of known size are hashed by a worker thread reading the temp file behind the writer (fileHasher of
    // @lade/digest); everything else through the verifying stream on this thread.
    const expectedSize = expected.size;
    const tail =
      expectedSize !== undefined && expectedSize >= TAIL_HASH_MIN
        ? fileHasher(temp, digestAlgorithm(digest))
        : undefined;
    const name = `blob ${digest}`;
    try {
      const reader = (tail ? content : content.pipeThrough(verifier)).getReader();
      const early = this.#fsync ? new EarlyWriteback(fh) : undefined;
      // Chunks read straight from `content` (not through the verifier) may be given back once written.
      const owned = tail !== undefined && ownsChunks(content);
      const writer = new BatchedWriter(
        fh,
        tail || early
          ? (bytes) => {
              tail?.advance(bytes);
              early?.written(bytes);
            }
          : undefined,
        owned,
      );
      let received = 0;
      try {
        for (;;) {
          const { done, value } = await readOrAbort(reader, options.signal, (s) =>
            abortError(s, `ingest of ${digest}`),
          );
          if (done) break;
          if (tail && received + value.byteLength > (expectedSize as number)) {
            if (owned) releaseChunk(value);
            throw contentErrors.tooLong(name, expectedSize as number);
          }
          await writer.write(value);
          received += value.byteLength;
          options.onProgress?.(received);
        }
        await writer.finish();
      } catch (err) {
        await reader.cancel(err).catch(() => {});
        await writer.settle();
        await early?.settle().catch(() => {});
        throw err;
      }
      // A failed early flush fails the ingest (the kernel reports a writeback error once, to the first sync).
      await early?.settle();
      let size: number;
      if (tail) {
        if (received !== expectedSize) {
          throw contentErrors.tooShort(name, received, expectedSize as number);
        }
        // The data reaches the disk while the worker catches up (a bad blob's temp file is synced for nothing).
        const [actual] = await Promise.all([tail.finish(received), this.#fsync ? fh.sync() : undefined]);
        if (actual !== digest) {
          throw contentErrors.digestMismatch(name, digest, actual);
        }
        size = received;
      } else {
        size = (await verifier.result).size;
      }
      if (this.#fsync && !tail) await fh.sync();
      await fh.close();
      closed = true;
      const finalPath = this.blobPath(digest);
      await mkdir(join(this.dir, 'blobs', digestAlgorithm(digest)), { recursive: true });
      await rename(temp, finalPath);
      if (this.#fsync) await syncDir(join(this.dir, 'blobs', digestAlgorithm(digest)));
      return { digest, size };
    } catch (err) {
      tail?.cancel();
      if (!closed) await fh.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
  }

  /** Reads `stream` to its end; `owned`: its chunks (passed through the verifier, which keeps none) may be released. */
  async #drain(stream: ReadableStream<Uint8Array>, options: IngestOptions, owned: boolean): Promise<void> {
    const reader = stream.getReader();
    let seen = 0;
    try {
      for (;;) {
        const { done, value } = await readOrAbort(reader, options.signal, (s) => abortError(s, 'ingest'));
        if (done) return;
        if (owned) releaseChunk(value);
        seen += value.byteLength;
        options.onProgress?.(seen);
      }
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    }
  }

  async delete(digest: Digest): Promise<boolean> {
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async *list(): AsyncIterable<Digest> {
    for (const alg of ALGORITHMS) {
      let names: string[];
      try {
        names = await readdir(join(this.dir, 'blobs', alg));
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      for (const name of names) {
        const d = `${alg}:${name}`;
        if (name.length === DIGEST_HEX_LENGTH[alg] && isDigest(d)) yield d;
      }
    }
  }

  /** Entries under `blobs/` that are not blobs: names that are no digest, unknown algorithms, directories. */
  async strayEntries(): Promise<StrayBlobEntry[]> {
    const out: StrayBlobEntry[] = [];
    const root = join(this.dir, 'blobs');
    let algs: string[];
    try {
      algs = await readdir(root);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw err;
    }
    for (const alg of algs) {
      const p = join(root, alg);
      const s = await stat(p).catch(() => undefined);
      if (!s) continue;
      if (!s.isDirectory() || !(ALGORITHMS as readonly string[]).includes(alg)) {
        out.push({ path: p, size: s.isFile() ? s.size : 0 });
        continue;
      }
      for (const name of await readdir(p)) {
        const fp = join(p, name);
        const fs = await stat(fp).catch(() => undefined);
        if (!fs) continue;
        if (!fs.isFile() || !isDigest(`${alg}:${name}`)) out.push({ path: fp, size: fs.isFile() ? fs.size : 0 });
      }
    }
    return out;
  }

  /** Files left in the ingest directory (in-progress writes of live processes included). */
  async tempFiles(): Promise<IngestTempFile[]> {
    let names: string[];
    try {
      names = await readdir(this.ingestDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: IngestTempFile[] = [];
    for (const name of names) {
      const path = join(this.ingestDir, name);
      const s = await stat(path).catch(() => undefined);
      if (!s) continue;
      const pid = Number.parseInt(name.split('-')[0] ?? '', 10);
      out.push({ path, size: s.size, mtimeMs: s.mtimeMs, ...(Number.isSafeInteger(pid) && pid > 0 ? { pid } : {}) });
    }
    return out;
  }

  /** Removes a temp file or stray entry found by {@link tempFiles} / {@link strayEntries}. */
  async removeGarbage(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }
}

/** fsync a directory so a rename in it survives a crash; a no-op where the platform refuses. */
export async function syncDir(dir: string): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems (and Windows) cannot fsync a directory; the rename is still atomic.
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** An ingest flushes what it has written to disk every this many bytes, while it goes on writing. */
const EARLY_WRITEBACK_STEP = 16 * 1024 * 1024;
/** Early flushes in flight in the process at most, so libuv's 4 threads always have some left for the writes. */
const EARLY_WRITEBACK_MAX = 2;
let earlyWritebacks = 0;

/**
 * Starts the disk writes of a growing temp file early (an `fdatasync` every {@link EARLY_WRITEBACK_STEP} bytes, not
 * awaited), so the final fsync finds little left to write. The kernel would otherwise hold a whole layer in the page
 * cache until that fsync: for `bench/pull`'s 512 MiB that tail took ~200 ms after the last byte arrived, and ~30 ms
 * with these flushes.
 */
class EarlyWriteback {
  readonly #fh: FileHandle;
  #flushed = 0;
  #inFlight: Promise<void> | undefined;
  #error: unknown;

  constructor(fh: FileHandle) {
    this.#fh = fh;
  }

  /** The file's first `bytes` bytes are written. */
  written(bytes: number): void {
    if (this.#inFlight || this.#error !== undefined) return;
    if (bytes - this.#flushed < EARLY_WRITEBACK_STEP || earlyWritebacks >= EARLY_WRITEBACK_MAX) return;
    earlyWritebacks++;
    this.#inFlight = this.#fh.datasync().then(
      () => {
        this.#flushed = bytes;
      },
      (err: unknown) => {
        this.#error = err;
      },
    );
    this.#inFlight.finally(() => {
      earlyWritebacks--;
      this.#inFlight = undefined;
    });
  }

  /** Waits for the flush in flight; rejects when any failed. */
  async settle(): Promise<void> {
    await this.#inFlight;
    if (this.#error !== undefined) throw this.#error;
  }
}

/** Blobs from this size on (when the size is known) are hashed by the tail-hashing worker. */
const TAIL_HASH_MIN = 1024 * 1024;

/** Bytes gathered before one write: one thread-pool trip per MiB instead of one per network chunk. */
const WRITE_BATCH = 1024 * 1024;

/**
 * Appends chunks to a file in ~1 MiB `writev` calls, with one write in flight while the caller reads and hashes the
 * next chunks, so disk writes overlap with the network. Holds at most two batches. Chunks must not be reused by their
 * producer after they are handed over (web stream chunks belong to the reader).
 */
class BatchedWriter {
  readonly #fh: FileHandle;
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #position = 0;
  #inFlight: Promise<void> = Promise.resolve();
  readonly #onWritten: ((bytes: number) => void) | undefined;
  readonly #owned: boolean;

  /**
   * `onWritten(n)`: the file's first n bytes are written (called in order, after each write completes). `owned`: the
   * chunks were handed over with ownership (@lade/manifest's owned chunks): each is released once written, or once
   * dropped by `settle`.
   */
  constructor(fh: FileHandle, onWritten?: (bytes: number) => void, owned = false) {
    this.#fh = fh;
    this.#onWritten = onWritten;
    this.#owned = owned;
  }

  /** Gives owned chunks back: written, or dropped unwritten. */
  #release(chunks: readonly Uint8Array[]): void {
    if (this.#owned) for (const chunk of chunks) releaseChunk(chunk);
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#batch.push(chunk);
    this.#batchBytes += chunk.byteLength;
    if (this.#batchBytes >= WRITE_BATCH) await this.#flush();
  }

  /** Waits for the write in flight, if any, writing nothing more and ignoring its error (the ingest failed). */
  async settle(): Promise<void> {
    this.#release(this.#batch);
    this.#batch = [];
    this.#batchBytes = 0;
    await this.#inFlight.catch(() => {});
  }

  /** Writes what is gathered and waits for every write; rejects with the first write error. */
  async finish(): Promise<void> {
    if (this.#batchBytes > 0) await this.#flush();
    await this.#inFlight;
  }

  async #flush(): Promise<void> {
    const buffers = this.#batch;
    const position = this.#position;
    this.#position += this.#batchBytes;
    const written = this.#position;
    this.#batch = [];
    this.#batchBytes = 0;
    // Wait for the previous write (and surface its error) before starting this one: one write in flight.
    try {
      await this.#inFlight;
    } catch (err) {
      this.#release(buffers);
      throw err;
    }
    const onWritten = this.#onWritten;
    const pending = writeFully(this.#fh, buffers, position)
      .finally(() => this.#release(buffers))
      .then(() => onWritten?.(written));
    pending.catch(() => {}); // observed by the next flush or finish()
    this.#inFlight = pending;
  }
}

async function writeFully(fh: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let rest = buffers;
  let pos = position;
  while (rest.length > 0) {
    const { bytesWritten } = await fh.writev(rest, pos);
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
    if (bytesWritten === 0 && next.length > 0) throw new Error('write made no progress (disk full?)');
    rest = next;
  }
}
