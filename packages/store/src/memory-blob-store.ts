import { type Digest, parseDigest, verifyingStream } from '@lade/digest';
import type { BlobInfo, BlobStore, ByteRange, IngestExpectation, IngestOptions } from './blob-store.js';
import { AbortedError, BlobUnknownError, RangeInvalidError } from './errors.js';
import { readOrAbort } from './file-stream.js';

/**
 * Blobs in memory, for tests and ephemeral servers. Same contract as {@link FsBlobStore}:
 * content becomes visible only after its size and digest were verified.
 */
export class MemoryBlobStore implements BlobStore {
  readonly #blobs = new Map<Digest, Uint8Array>();

  async has(digest: Digest): Promise<boolean> {
    return this.#blobs.has(digest);
  }

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    const b = this.#blobs.get(digest);
    return b ? { digest, size: b.byteLength } : undefined;
  }

  async read(digest: Digest, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
    const b = this.#blobs.get(digest);
    if (!b) throw new BlobUnknownError(`blob ${digest} is not in the memory store; write it first`);
    const start = range?.start ?? 0;
    const end = range?.end ?? b.byteLength;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > b.byteLength) {
      throw new RangeInvalidError(`range ${start}-${end} is outside blob ${digest} of ${b.byteLength} bytes`);
    }
    const part = b.subarray(start, end);
    return new ReadableStream<Uint8Array>({
      start(controller) {
        if (part.byteLength > 0) controller.enqueue(part.slice());
        controller.close();
      },
    });
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
    const reader = content.pipeThrough(verifier).getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await readOrAbort(
          reader,
          options.signal,
          (s) => new AbortedError(`ingest of ${digest} was aborted`, { cause: s.reason }),
        );
        if (done) break;
        chunks.push(value.slice());
        size += value.byteLength;
        options.onProgress?.(size);
      }
    } catch (err) {
      await reader.cancel(err).catch(() => {});
      throw err;
    }
    await verifier.result;
    if (!this.#blobs.has(digest)) {
      const all = new Uint8Array(size);
      let off = 0;
      for (const c of chunks) {
        all.set(c, off);
        off += c.byteLength;
      }
      this.#blobs.set(digest, all);
    }
    return { digest, size };
  }

  async delete(digest: Digest): Promise<boolean> {
    return this.#blobs.delete(digest);
  }

  async *list(): AsyncIterable<Digest> {
    for (const d of [...this.#blobs.keys()]) yield d;
  }
}
