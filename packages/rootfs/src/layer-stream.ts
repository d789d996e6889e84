import { type Compression, decompressStream, readTar, sniffCompression, type TarReader } from '@lade/archive';
import { createHasher, type Digest, verifyingStream } from '@lade/digest';
import { LayerDigestError } from './errors.js';

/** Options of {@link openLayer}. */
export interface OpenLayerOptions {
  readonly compression?: Compression | 'auto';
  readonly expectedDiffId?: Digest;
  readonly expectedBlob?: { readonly digest: Digest; readonly size?: number };
  readonly name?: string;
  readonly signal?: AbortSignal;
}

/** An opened layer: its tar entries, and `finish()` which drains the rest, checks the diff_id and reports it. */
export interface OpenedLayer {
  readonly tar: TarReader;
  readonly compression: Compression;
  finish(): Promise<{ readonly diffId: Digest; readonly size: number }>;
  cancel(reason?: unknown): Promise<void>;
}

/**
 * Opens a layer blob as tar entries: the compressed bytes are verified against `expectedBlob`, decompressed
 * (sniffed unless told), and the uncompressed bytes hashed as the tar reader consumes them. The reader stops at
 * the end-of-archive blocks; `finish()` drains what follows so the diff_id covers every byte, each hashed once.
 */
export async function openLayer(
  layer: ReadableStream<Uint8Array>,
  options: OpenLayerOptions = {},
): Promise<OpenedLayer> {
  const name = options.name ?? 'layer';
  let stream = layer;
  if (options.expectedBlob) {
    const { digest, size } = options.expectedBlob;
    stream = stream.pipeThrough(verifyingStream({ digest, ...(size !== undefined ? { size } : {}), name }));
  }
  let compression: Compression;
  if (options.compression === undefined || options.compression === 'auto') {
    const sniffed = await sniffCompression(stream);
    compression = sniffed.compression;
    stream = sniffed.stream;
  } else {
    compression = options.compression;
  }
  const reader = decompressStream(stream, compression, { name }).getReader();
  const hasher = createHasher('sha256');
  let size = 0;
  const tarInput = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        const r = await reader.read();
        if (r.done) return c.close();
        hasher.update(r.value);
        size += r.value.length;
        c.enqueue(r.value);
      },
      // The tar reader lets go at the end of the archive; the rest is drained by finish().
      cancel() {},
    },
    // Read ahead a few chunks so decompression (in the thread pool) overlaps the writes of the consumer.
    { highWaterMark: 8 },
  );
  return {
    tar: readTar(tarInput, options.signal ? { signal: options.signal } : {}),
    compression,
    async finish() {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        hasher.update(r.value);
        size += r.value.length;
      }
      const diffId = hasher.digest();
      if (options.expectedDiffId !== undefined && diffId !== options.expectedDiffId) {
        throw new LayerDigestError(
          `${name}: its uncompressed content hashes to ${diffId}, not the diff_id ${options.expectedDiffId} the image config records; the layer is corrupt`,
        );
      }
      return { diffId, size };
    },
    async cancel(reason) {
      await reader.cancel(reason).catch(() => {});
    },
  };
}
