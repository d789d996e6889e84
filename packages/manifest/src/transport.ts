import type { Digest } from '@lade/digest';

/** An OCI platform, as it appears in an index entry or an image config. */
export interface Platform {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly features?: readonly string[];
}

/** An OCI content descriptor: what a piece of content is, its digest and exact size. */
export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly urls?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly data?: string;
  readonly platform?: Platform;
  readonly artifactType?: string;
}

/** Options every transport operation accepts. */
export interface TransportOptions {
  readonly signal?: AbortSignal;
}

/** Options of opening a blob. */
export interface OpenBlobOptions extends TransportOptions {
  /** Start reading at this byte (to resume an interrupted transfer). */
  readonly offset?: number;
}

/**
 * A place images can be read from: a registry, the local store, an OCI layout, a docker or OCI archive.
 * Every source is bound to one reference (a tag or digest) when created.
 */
export interface ImageSource {
  /** Transport-qualified name for messages, e.g. `docker://127.0.0.1:5000/app:1`. */
  readonly name: string;
  /** The root descriptor (an index or a manifest) that the source's reference names. */
  resolve(options?: TransportOptions): Promise<Descriptor>;
  /** The exact bytes of a manifest or index (≤ 4 MiB), verified against the descriptor's digest and size. */
  fetchManifest(descriptor: Descriptor, options?: TransportOptions): Promise<Uint8Array>;
  /** A blob's bytes as a stream; callers verify it (copy does, with @lade/digest). */
  openBlob(descriptor: Descriptor, options?: OpenBlobOptions): Promise<ReadableStream<Uint8Array>>;
  /** Releases connections, files and locks. */
  close?(): Promise<void>;
}

/** Options of writing a blob to a sink. */
export interface WriteBlobOptions extends TransportOptions {
  /** Called with the number of bytes the sink has taken so far. */
  readonly onProgress?: (transferred: number) => void;
}

/** Options of writing a manifest to a sink. */
export interface WriteManifestOptions extends TransportOptions {
  /** True for the root manifest (written last): the sink names it with its own reference (tag). */
  readonly root?: boolean;
}

/**
 * A place images can be written to. `copy` writes blobs first, then child manifests, then the root manifest
 * with `{ root: true }`, then calls `commit()`.
 */
export interface ImageSink {
  /** Transport-qualified name for messages. */
  readonly name: string;
  /**
   * True when `writeBlob` itself hashes the content and rejects (leaving nothing visible) on a size or digest mismatch,
   * as the local store does. `copy` then leaves verification to the sink instead of hashing every byte twice.
   */
  readonly verifiesBlobs?: boolean;
  /** True when the sink already holds this blob (copy then skips it). */
  hasBlob(descriptor: Descriptor, options?: TransportOptions): Promise<boolean>;
  /**
   * Stores a blob. The sink verifies size and digest before the blob becomes visible,
   * and leaves nothing visible when the stream errors or the verification fails.
   */
  writeBlob(descriptor: Descriptor, content: ReadableStream<Uint8Array>, options?: WriteBlobOptions): Promise<void>;
  /**
   * Makes a blob of `source` available without transferring it (a registry's cross-repository mount).
   * Returns false when that is not possible; copy then writes the blob normally.
   */
  mountBlob?(descriptor: Descriptor, source: ImageSource, options?: TransportOptions): Promise<boolean>;
  /** True when the sink already holds this manifest. */
  hasManifest?(descriptor: Descriptor, options?: TransportOptions): Promise<boolean>;
  /** Stores a manifest or index with its exact bytes. */
  writeManifest(descriptor: Descriptor, bytes: Uint8Array, options?: WriteManifestOptions): Promise<void>;
  /** Finishes the image (archives write their index here); nothing is final before it resolves. */
  commit?(options?: TransportOptions): Promise<void>;
  /** Releases resources; after a failed copy, discards what was not committed. */
  close?(): Promise<void>;
}
