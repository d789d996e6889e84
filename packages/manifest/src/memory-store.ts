// An in-memory image store that is both an ImageSource and an ImageSink, for tests and small tools.
import { type Digest, isDigest, LadeError, verifyBytes, verifyingStream } from '@lade/digest';
import { buildConfig, buildIndex, buildManifest, describeBytes } from './build.js';
import { MediaType } from './media-types.js';
import { MAX_MANIFEST_SIZE, parseManifest } from './parse.js';
import type {
  Descriptor,
  ImageSink,
  ImageSource,
  OpenBlobOptions,
  Platform,
  TransportOptions,
  WriteBlobOptions,
  WriteManifestOptions,
} from './transport.js';

/** What {@link MemoryImageStore.putImage} takes. */
export interface PutImageInput {
  /** Uncompressed layer tars (or any bytes: the store never looks inside). */
  readonly layers: readonly Uint8Array[];
  readonly platform?: Platform;
  readonly labels?: Readonly<Record<string, string>>;
  /** `oci` (default) or Docker `v2s2` media types. */
  readonly format?: 'oci' | 'v2s2';
  readonly tag?: string;
}

/** What {@link MemoryImageStore.putImage} stored. */
export interface PutImageResult {
  readonly manifest: Descriptor;
  readonly manifestBytes: Uint8Array;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

/** A manifest held by a {@link MemoryImageStore}. */
export interface StoredManifest {
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

function unknownError(code: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN', what: string, where: string): LadeError {
  return new LadeError(code, `${what} not found in ${where}`);
}

/**
 * Images in memory: blobs and manifests by digest, and tags. `source(ref)` and `sink(ref)` give an
 * {@link ImageSource} / {@link ImageSink} bound to a tag (or a digest, for sources), so `copy` can move images between
 * two stores, or between a store and any other transport.
 *
 * A sink verifies every blob and manifest before it becomes visible (a failed or cancelled write leaves nothing), tags
 * the root manifest when it is written with `{ root: true }`, and counts its calls (`stats`) so tests can assert them.
 *
 * @example
 * const a = new MemoryImageStore();
 * const b = new MemoryImageStore();
 * a.putImage({ layers: [tarBytes], tag: 'app:1' });
 * await copy(a.source('app:1'), b.sink('app:1'));
 */
export class MemoryImageStore {
  readonly name: string;
  readonly blobs: Map<Digest, Uint8Array> = new Map();
  readonly manifests: Map<Digest, StoredManifest> = new Map();
  readonly tags: Map<string, Descriptor> = new Map();
  /** Calls made through sinks of this store. */
  readonly stats = { hasBlob: 0, writeBlob: 0, mountBlob: 0, writeManifest: 0, commit: 0 };

  constructor(name = 'memory') {
    this.name = name;
  }

  /** Stores bytes as a blob and returns their descriptor. */
  putBlob(bytes: Uint8Array, mediaType = 'application/octet-stream'): Descriptor {
    const d = describeBytes(mediaType, bytes);
    this.blobs.set(d.digest, bytes);
    return d;
  }

  /**
   * Stores bytes under a digest without checking them — only to simulate a corrupt source in tests.
   * Everything else verifies.
   */
  putBlobUnchecked(digest: Digest, bytes: Uint8Array): void {
    this.blobs.set(digest, bytes);
  }

  /** Stores a manifest or index (validated) and optionally tags it; returns its descriptor. */
  putManifest(bytes: Uint8Array, tag?: string): Descriptor {
    const parsed = parseManifest(bytes);
    const d = describeBytes(parsed.mediaType, bytes);
    this.manifests.set(d.digest, { mediaType: parsed.mediaType, bytes });
    if (tag !== undefined) this.tags.set(tag, d);
    return d;
  }

  /**
   * Builds and stores a small single-platform image from uncompressed layer tars (their digests are the diff IDs)
   * and tags it. For tests: real images come from a transport.
   */
  putImage(input: PutImageInput): PutImageResult {
    const docker = input.format === 'v2s2';
    const layers = input.layers.map((l) => this.putBlob(l, docker ? MediaType.DOCKER_LAYER : MediaType.OCI_LAYER));
    const platform = input.platform ?? { os: 'linux', architecture: 'amd64' };
    const config = buildConfig(
      {
        architecture: platform.architecture,
        os: platform.os,
        ...(platform.variant ? { variant: platform.variant } : {}),
        config: { Cmd: ['/bin/sh'], ...(input.labels ? { Labels: input.labels } : {}) },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        history: layers.map(() => ({ created_by: 'lade test layer' })),
      },
      { mediaType: docker ? MediaType.DOCKER_CONFIG : MediaType.OCI_CONFIG },
    );
    this.blobs.set(config.descriptor.digest, config.bytes);
    const manifest = buildManifest({
      mediaType: docker ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST,
      config: config.descriptor,
      layers,
    });
    const descriptor = this.putManifest(manifest.bytes, input.tag);
    return { manifest: descriptor, manifestBytes: manifest.bytes, config: config.descriptor, layers };
  }

  /** Builds and stores an index over stored manifests, each with its platform, and tags it. */
  putIndex(
    entries: readonly { readonly descriptor: Descriptor; readonly platform?: Platform }[],
    options: { tag?: string; format?: 'oci' | 'v2s2' } = {},
  ): Descriptor {
    const index = buildIndex({
      mediaType: options.format === 'v2s2' ? MediaType.DOCKER_MANIFEST_LIST : MediaType.OCI_INDEX,
      manifests: entries.map((e) => ({
        mediaType: e.descriptor.mediaType,
        digest: e.descriptor.digest,
        size: e.descriptor.size,
        ...(e.platform ? { platform: e.platform } : {}),
      })),
    });
    return this.putManifest(index.bytes, options.tag);
  }

  /** A stored blob's bytes, if present. */
  getBlob(digest: string): Uint8Array | undefined {
    return this.blobs.get(digest as Digest);
  }

  /** A stored manifest, if present. */
  getManifest(digest: string): StoredManifest | undefined {
    return this.manifests.get(digest as Digest);
  }

  /** The descriptor a tag or digest names, if present. */
  resolve(ref: string): Descriptor | undefined {
    if (isDigest(ref)) {
      const m = this.manifests.get(ref);
      return m ? describeBytes(m.mediaType, m.bytes) : undefined;
    }
    return this.tags.get(ref);
  }

  /** An {@link ImageSource} reading the image `ref` (a tag or a digest) names. */
  source(ref: string): ImageSource {
    const store = this;
    const name = `memory:${this.name}:${ref}`;
    return {
      name,
      async resolve(options: TransportOptions = {}) {
        options.signal?.throwIfAborted();
        const d = store.resolve(ref);
        if (!d) throw unknownError('MANIFEST_UNKNOWN', `image ${ref}`, name);
        return d;
      },
      async fetchManifest(descriptor: Descriptor, options: TransportOptions = {}) {
        options.signal?.throwIfAborted();
        const m = store.manifests.get(descriptor.digest);
        if (!m) throw unknownError('MANIFEST_UNKNOWN', `manifest ${descriptor.digest}`, name);
        verifyBytes(m.bytes, {
          digest: descriptor.digest,
          size: descriptor.size,
          name: `manifest ${descriptor.digest}`,
        });
        return m.bytes;
      },
      async openBlob(descriptor: Descriptor, options: OpenBlobOptions = {}) {
        options.signal?.throwIfAborted();
        const bytes = store.blobs.get(descriptor.digest);
        if (!bytes) throw unknownError('BLOB_UNKNOWN', `blob ${descriptor.digest}`, name);
        return chunkedStream(bytes.subarray(options.offset ?? 0));
      },
    };
  }

  /** An {@link ImageSink} writing into this store; the root manifest is tagged `ref` (when it is not a digest). */
  sink(ref: string): ImageSink {
    const store = this;
    const name = `memory:${this.name}:${ref}`;
    return {
      name,
      async hasBlob(descriptor: Descriptor, options: TransportOptions = {}) {
        options.signal?.throwIfAborted();
        store.stats.hasBlob++;
        return store.blobs.has(descriptor.digest);
      },
      async writeBlob(descriptor: Descriptor, content: ReadableStream<Uint8Array>, options: WriteBlobOptions = {}) {
        store.stats.writeBlob++;
        const parts: Uint8Array[] = [];
        let total = 0;
        const verified = content.pipeThrough(
          verifyingStream({ digest: descriptor.digest, size: descriptor.size }),
          options.signal ? { signal: options.signal } : {},
        );
        const reader = verified.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(value);
          total += value.byteLength;
          options.onProgress?.(total);
        }
        // Only a verified, complete blob becomes visible.
        store.blobs.set(descriptor.digest, concat(parts, total));
      },
      async hasManifest(descriptor: Descriptor, options: TransportOptions = {}) {
        options.signal?.throwIfAborted();
        return store.manifests.has(descriptor.digest);
      },
      async writeManifest(descriptor: Descriptor, bytes: Uint8Array, options: WriteManifestOptions = {}) {
        options.signal?.throwIfAborted();
        store.stats.writeManifest++;
        if (bytes.byteLength > MAX_MANIFEST_SIZE)
          throw new LadeError('MANIFEST_INVALID', `manifest ${descriptor.digest} is over the 4 MiB limit`);
        verifyBytes(bytes, { digest: descriptor.digest, size: descriptor.size, name: `manifest ${descriptor.digest}` });
        const parsed = parseManifest(bytes, descriptor.mediaType);
        store.manifests.set(descriptor.digest, { mediaType: parsed.mediaType, bytes });
        if (options.root) {
          if (isDigest(ref)) {
            if (ref !== descriptor.digest)
              throw new LadeError(
                'DIGEST_INVALID',
                `root manifest ${descriptor.digest} is not the ${ref} this sink was opened for`,
              );
          } else {
            store.tags.set(ref, { mediaType: parsed.mediaType, digest: descriptor.digest, size: descriptor.size });
          }
        }
      },
      async commit(options: TransportOptions = {}) {
        options.signal?.throwIfAborted();
        store.stats.commit++;
      },
    };
  }
}

/** Serves bytes as a stream of up to 64 KiB chunks, so consumers see several reads, as from a socket. */
function chunkedStream(bytes: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      const end = Math.min(offset + chunkSize, bytes.byteLength);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
  });
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}
