import type { Digest } from '@lade/digest';

/** A byte range of a blob; `end` is exclusive and defaults to the blob's end. */
export interface ByteRange {
  readonly start: number;
  readonly end?: number;
}

/** What a blob store knows about one blob. */
export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

/** What ingest checks content against before it becomes visible. */
export interface IngestExpectation {
  readonly digest: Digest;
  /** Exact size, when known. */
  readonly size?: number;
}

/** Options of ingest. */
export interface IngestOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (written: number) => void;
}

/**
 * Content-addressed blob storage. Ingest is atomic: content is written aside, verified (size and digest),
 * and only then made visible under its digest; a failure or crash leaves nothing visible.
 * Implemented by the filesystem and memory drivers here, and by the server's storage drivers.
 */
export interface BlobStore {
  has(digest: Digest): Promise<boolean>;
  /** Size of a blob, or undefined when absent. */
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /** The blob's bytes (or a range of them); throws BLOB_UNKNOWN when absent. */
  read(digest: Digest, range?: ByteRange): Promise<ReadableStream<Uint8Array>>;
  /** Stores content under its digest after verifying it; a no-op (content drained) when present. */
  ingest(expected: IngestExpectation, content: ReadableStream<Uint8Array>, options?: IngestOptions): Promise<BlobInfo>;
  /** Removes a blob; false when it was absent. */
  delete(digest: Digest): Promise<boolean>;
  /** Every blob's digest, in no particular order. */
  list(): AsyncIterable<Digest>;
}
