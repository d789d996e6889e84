import { createHash, type Hash, randomUUID } from 'node:crypto';
import { type Digest, type DigestAlgorithm, digestAlgorithm, digestHex, isDigest } from '@lade/digest';
import { readBounded } from '@lade/manifest';
import { RegistryError } from './errors.js';
import { type ManifestDescriptor, manifestMediaType, type ParsedManifest, parseManifestBody } from './manifest-body.js';
import { MAX_MANIFEST_SIZE } from './names.js';
import type { StorageDriver } from './storage/driver.js';

const ROOT = '/docker/registry/v2';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The storage paths of the registry layout (distribution's layout, so either server reads the other's storage). */
export const layout = Object.freeze({
  root: ROOT,
  blobsRoot: `${ROOT}/blobs`,
  reposRoot: `${ROOT}/repositories`,
  blobDir: (d: Digest) => `${ROOT}/blobs/${digestAlgorithm(d)}/${digestHex(d).slice(0, 2)}/${digestHex(d)}`,
  blobData: (d: Digest) => `${ROOT}/blobs/${digestAlgorithm(d)}/${digestHex(d).slice(0, 2)}/${digestHex(d)}/data`,
  repo: (name: string) => `${ROOT}/repositories/${name}`,
  layerLink: (name: string, d: Digest) =>
    `${ROOT}/repositories/${name}/_layers/${digestAlgorithm(d)}/${digestHex(d)}/link`,
  layerLinkDir: (name: string, d: Digest) =>
    `${ROOT}/repositories/${name}/_layers/${digestAlgorithm(d)}/${digestHex(d)}`,
  layersRoot: (name: string) => `${ROOT}/repositories/${name}/_layers`,
  revisionLink: (name: string, d: Digest) =>
    `${ROOT}/repositories/${name}/_manifests/revisions/${digestAlgorithm(d)}/${digestHex(d)}/link`,
  revisionDir: (name: string, d: Digest) =>
    `${ROOT}/repositories/${name}/_manifests/revisions/${digestAlgorithm(d)}/${digestHex(d)}`,
  revisionsRoot: (name: string) => `${ROOT}/repositories/${name}/_manifests/revisions`,
  tagsRoot: (name: string) => `${ROOT}/repositories/${name}/_manifests/tags`,
  tagDir: (name: string, tag: string) => `${ROOT}/repositories/${name}/_manifests/tags/${tag}`,
  tagCurrent: (name: string, tag: string) => `${ROOT}/repositories/${name}/_manifests/tags/${tag}/current/link`,
  tagIndexLink: (name: string, tag: string, d: Digest) =>
    `${ROOT}/repositories/${name}/_manifests/tags/${tag}/index/${digestAlgorithm(d)}/${digestHex(d)}/link`,
  uploadsRoot: (name: string) => `${ROOT}/repositories/${name}/_uploads`,
  uploadDir: (name: string, id: string) => `${ROOT}/repositories/${name}/_uploads/${id}`,
  uploadData: (name: string, id: string) => `${ROOT}/repositories/${name}/_uploads/${id}/data`,
  uploadStarted: (name: string, id: string) => `${ROOT}/repositories/${name}/_uploads/${id}/startedat`,
  referrersDir: (name: string, subject: Digest) =>
    `${ROOT}/repositories/${name}/_referrers/${digestAlgorithm(subject)}/${digestHex(subject)}`,
  referrerEntry: (name: string, subject: Digest, d: Digest) =>
    `${ROOT}/repositories/${name}/_referrers/${digestAlgorithm(subject)}/${digestHex(subject)}/${d}`,
});

/** A stored manifest: its exact bytes and the media type it is served with. */
export interface StoredManifest {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly bytes: Uint8Array;
}

/** Where an upload session stands. */
export interface UploadState {
  readonly id: string;
  /** Bytes received so far (the next chunk must start here). */
  readonly size: number;
  readonly startedAt: Date;
}

/** A referrer entry: the descriptor the referrers API lists. */
export interface ReferrerDescriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** Options of the registry store. */
export interface RegistryStoreOptions {
  /** Largest blob accepted, in bytes (default: unlimited). */
  readonly maxBlobSize?: number;
  /** Bytes of manifest content kept in memory (default 32 MiB). */
  readonly manifestCacheBytes?: number;
}

/** Thrown by appends whose Content-Range does not start at the upload's current size. */
export function rangeError(size: number, location: string): RegistryError {
  return new RegistryError(
    'BLOB_UPLOAD_INVALID',
    `chunk does not start at the upload's current offset ${size}; resume from byte ${size}`,
    {
      status: 416,
      headers: { Range: `0-${Math.max(size - 1, 0)}`, Location: location, 'Content-Length': '0' },
      detail: { offset: size },
    },
  );
}

class Mutex {
  readonly #tails = new Map<string, Promise<void>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** A byte-bounded LRU of immutable manifest content. */
class ManifestCache {
  readonly #map = new Map<Digest, StoredManifest>();
  #bytes = 0;
  constructor(readonly limit: number) {}
  get(d: Digest): StoredManifest | undefined {
    const v = this.#map.get(d);
    if (v) {
      this.#map.delete(d);
      this.#map.set(d, v);
    }
    return v;
  }
  set(v: StoredManifest): void {
    if (v.bytes.byteLength > this.limit || this.#map.has(v.digest)) return;
    this.#map.set(v.digest, v);
    this.#bytes += v.bytes.byteLength;
    for (const [k, old] of this.#map) {
      if (this.#bytes <= this.limit) break;
      this.#map.delete(k);
      this.#bytes -= old.bytes.byteLength;
    }
  }
  delete(d: Digest): void {
    const v = this.#map.get(d);
    if (v) {
      this.#map.delete(d);
      this.#bytes -= v.bytes.byteLength;
    }
  }
}

function parseLink(bytes: Uint8Array | undefined): Digest | undefined {
  if (!bytes) return undefined;
  const s = decoder.decode(bytes).trim();
  return isDigest(s) ? s : undefined;
}

function hexOf(alg: string, hex: string): Digest | undefined {
  const d = `${alg}:${hex}`;
  return isDigest(d) ? d : undefined;
}

/** Reads a request body into memory, refusing (without reading further) anything past `limit` bytes. */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
  what: string,
): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  return readBounded(
    body,
    limit,
    () =>
      new RegistryError('SIZE_INVALID', `${what} is larger than the ${limit}-byte limit; it was refused`, {
        status: 413,
      }),
  );
}

/**
 * The registry's data model on a {@link StorageDriver}: content-addressed blobs, per-repository links (so a digest is
 * visible only in repositories that received or mounted it), manifests with tags and referrers, and resumable uploads
 * whose whole state lives in storage (any replica can continue an upload another one started).
 */
export class RegistryStore {
  readonly driver: StorageDriver;
  readonly maxBlobSize: number;
  readonly #locks = new Mutex();
  readonly #hashers = new Map<string, { hash: Hash; size: number }>();
  readonly #cache: ManifestCache;

  constructor(driver: StorageDriver, options: RegistryStoreOptions = {}) {
    this.driver = driver;
    this.maxBlobSize = options.maxBlobSize ?? Number.POSITIVE_INFINITY;
    this.#cache = new ManifestCache(options.manifestCacheBytes ?? 32 * 1024 * 1024);
  }

  // ---- blobs ----

  /** Size and age of a stored blob, or undefined. */
  async statBlob(digest: Digest): Promise<{ size: number; modTime: Date } | undefined> {
    const s = await this.driver.stat(layout.blobData(digest));
    return s && !s.isDir ? { size: s.size, modTime: s.modTime } : undefined;
  }

  /** The blob's size when `repo` may serve it (a layer link or a manifest revision there) and it is stored. */
  async repoBlob(repo: string, digest: Digest): Promise<{ size: number } | undefined> {
    const linked =
      parseLink(await this.driver.getContent(layout.layerLink(repo, digest))) === digest ||
      parseLink(await this.driver.getContent(layout.revisionLink(repo, digest))) === digest;
    if (!linked) return undefined;
    return this.statBlob(digest);
  }

  /** Makes a stored blob visible in a repository. */
  async linkBlob(repo: string, digest: Digest): Promise<void> {
    await this.driver.putContent(layout.layerLink(repo, digest), encoder.encode(digest));
  }

  /** Removes a blob from a repository (the content stays until garbage collection); false when it was not linked. */
  async unlinkBlob(repo: string, digest: Digest): Promise<boolean> {
    const linked = parseLink(await this.driver.getContent(layout.layerLink(repo, digest))) === digest;
    if (!linked) return false;
    await this.driver.delete(layout.layerLinkDir(repo, digest));
    return true;
  }

  /** The bytes of a stored blob from `start` to `end` (exclusive). */
  openBlob(digest: Digest, start?: number, end?: number): Promise<ReadableStream<Uint8Array> | undefined> {
    return this.driver.reader(layout.blobData(digest), start, end);
  }

  /** A local file path of the blob's content, when the driver has one. */
  localBlobPath(digest: Digest): string | undefined {
    return this.driver.localPath?.(layout.blobData(digest));
  }

  // ---- uploads ----

  /** Starts an upload session and returns its id. */
  async createUpload(repo: string): Promise<string> {
    const id = randomUUID();
    await this.driver.putContent(layout.uploadStarted(repo, id), encoder.encode(new Date().toISOString()));
    return id;
  }

  /** Where an upload stands, or undefined when there is no such session. */
  async uploadState(repo: string, id: string): Promise<UploadState | undefined> {
    const started = await this.driver.getContent(layout.uploadStarted(repo, id));
    if (!started) return undefined;
    const data = await this.driver.stat(layout.uploadData(repo, id));
    const at = new Date(decoder.decode(started));
    return { id, size: data?.size ?? 0, startedAt: Number.isNaN(at.getTime()) ? new Date(0) : at };
  }

  /**
   * Appends a request body to an upload. `start` (from Content-Range) must equal the current size, else a 416 error.
   * Returns the new size. Bytes that reached storage before a failure stay, so the client can resume.
   */
  async appendUpload(
    repo: string,
    id: string,
    body: ReadableStream<Uint8Array> | null,
    location: string,
    range?: { start: number; end: number },
  ): Promise<number> {
    return this.#locks.run(`${repo}\n${id}`, async () => {
      const state = await this.uploadState(repo, id);
      if (!state)
        throw new RegistryError(
          'BLOB_UPLOAD_UNKNOWN',
          `upload ${id} does not exist or has expired; start a new upload`,
        );
      return this.#append(repo, id, state.size, body, location, range);
    });
  }

  async #append(
    repo: string,
    id: string,
    size: number,
    body: ReadableStream<Uint8Array> | null,
    location: string,
    range?: { start: number; end: number },
  ): Promise<number> {
    if (range && range.start !== size) {
      await body?.cancel().catch(() => {});
      throw rangeError(size, location);
    }
    if (!body) return size;
    const key = `${repo}\n${id}`;
    let cached = this.#hashers.get(key);
    if (!cached || cached.size !== size) {
      cached = size === 0 ? { hash: createHash('sha256'), size: 0 } : undefined;
      if (cached) {
        // Abandoned uploads must not grow this map forever: the oldest entries go (those uploads re-hash from storage).
        if (this.#hashers.size >= 10_000) this.#hashers.delete(this.#hashers.keys().next().value!);
        this.#hashers.set(key, cached);
      } else this.#hashers.delete(key);
    }
    const writer = await this.driver.writer(layout.uploadData(repo, id), true);
    const reader = body.getReader();
    let ok = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (writer.size + value.byteLength > this.maxBlobSize) {
          throw new RegistryError(
            'SIZE_INVALID',
            `blob upload ${id} exceeds the ${this.maxBlobSize}-byte limit; it was refused`,
            { status: 413 },
          );
        }
        await writer.write(value);
        if (cached) {
          cached.hash.update(value);
          cached.size += value.byteLength;
        }
      }
      if (range && writer.size !== range.end + 1) {
        throw new RegistryError(
          'BLOB_UPLOAD_INVALID',
          `chunk length does not match Content-Range ${range.start}-${range.end}; resend the chunk`,
          {
            status: 416,
            headers: { Range: `0-${Math.max(size - 1, 0)}`, Location: location },
          },
        );
      }
      await writer.commit();
      ok = true;
      return writer.size;
    } finally {
      if (!ok) {
        await reader.cancel().catch(() => {});
        await writer.cancel().catch(() => {});
        // The stored size may now differ from what the hasher saw; it is re-checked on the next append.
        if (cached && this.driver.name !== 'filesystem') this.#hashers.delete(key);
      }
    }
  }

  /**
   * Finishes an upload: appends the final body (if any), verifies digest and size, and only then makes the blob visible.
   * On a mismatch the upload is discarded and nothing becomes visible.
   */
  async finishUpload(
    repo: string,
    id: string,
    digest: Digest,
    body: ReadableStream<Uint8Array> | null,
    location: string,
    range?: { start: number; end: number },
  ): Promise<{ digest: Digest; size: number }> {
    const key = `${repo}\n${id}`;
    return this.#locks.run(key, async () => {
      const state = await this.uploadState(repo, id);
      if (!state) {
        await body?.cancel().catch(() => {});
        throw new RegistryError(
          'BLOB_UPLOAD_UNKNOWN',
          `upload ${id} does not exist or has expired; start a new upload`,
        );
      }
      const size = await this.#append(repo, id, state.size, body, location, range);
      const actual = await this.#uploadDigest(repo, id, size, digestAlgorithm(digest));
      if (actual !== digest) {
        await this.cancelUpload(repo, id);
        throw new RegistryError(
          'DIGEST_INVALID',
          `uploaded content has digest ${actual}, not the ${digest} the client named; the upload was discarded, push it again`,
          {
            detail: { expected: digest, actual },
          },
        );
      }
      if (await this.statBlob(digest)) {
        await this.driver.delete(layout.uploadDir(repo, id));
      } else {
        if (size === 0) await this.driver.putContent(layout.uploadData(repo, id), new Uint8Array(0));
        await this.driver.move(layout.uploadData(repo, id), layout.blobData(digest));
        await this.driver.delete(layout.uploadDir(repo, id));
      }
      this.#hashers.delete(key);
      await this.linkBlob(repo, digest);
      return { digest, size };
    });
  }

  async #uploadDigest(repo: string, id: string, size: number, algorithm: DigestAlgorithm): Promise<Digest> {
    const cached = this.#hashers.get(`${repo}\n${id}`);
    if (cached && cached.size === size && algorithm === 'sha256')
      return `sha256:${cached.hash.copy().digest('hex')}` as Digest;
    // Another replica (or a restarted process) received part of this upload: hash what storage holds.
    const h = createHash(algorithm);
    const stream = await this.driver.reader(layout.uploadData(repo, id));
    if (stream) for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) h.update(chunk);
    return `${algorithm}:${h.digest('hex')}` as Digest;
  }

  /** Cancels an upload and deletes what it received; false when there was no such session. */
  async cancelUpload(repo: string, id: string): Promise<boolean> {
    const exists = await this.driver.stat(layout.uploadStarted(repo, id));
    this.#hashers.delete(`${repo}\n${id}`);
    if (!exists) return false;
    await this.driver.delete(layout.uploadDir(repo, id));
    return true;
  }

  /** Every upload session of a repository. */
  async listUploads(repo: string): Promise<string[]> {
    return this.driver.list(layout.uploadsRoot(repo));
  }

  // ---- manifests ----

  /** Resolves a tag to its digest, or undefined. */
  async resolveTag(repo: string, tag: string): Promise<Digest | undefined> {
    return parseLink(await this.driver.getContent(layout.tagCurrent(repo, tag)));
  }

  /** True when the manifest is a revision of the repository. */
  async hasManifest(repo: string, digest: Digest): Promise<boolean> {
    return parseLink(await this.driver.getContent(layout.revisionLink(repo, digest))) === digest;
  }

  /** The manifest content for a digest (no repository check). */
  async manifestContent(digest: Digest): Promise<StoredManifest | undefined> {
    const hit = this.#cache.get(digest);
    if (hit) return hit;
    const bytes = await this.driver.getContent(layout.blobData(digest));
    if (!bytes) return undefined;
    const m: StoredManifest = { digest, mediaType: manifestMediaType(bytes), bytes };
    this.#cache.set(m);
    return m;
  }

  /** A manifest of the repository by tag or digest, or undefined. */
  async getManifest(repo: string, reference: string): Promise<StoredManifest | undefined> {
    let digest: Digest | undefined;
    if (isDigest(reference)) {
      if (!(await this.hasManifest(repo, reference))) return undefined;
      digest = reference;
    } else {
      digest = await this.resolveTag(repo, reference);
      if (!digest) return undefined;
    }
    return this.manifestContent(digest);
  }

  /**
   * Validates and stores a manifest, then tags it when `tag` is given. Everything it references (blobs, or child
   * manifests of an index) must already be in the repository, else MANIFEST_BLOB_UNKNOWN.
   */
  async putManifest(
    repo: string,
    bytes: Uint8Array,
    contentType: string | undefined,
    reference: { tag?: string; digest?: Digest },
  ): Promise<{ digest: Digest; parsed: ParsedManifest }> {
    if (bytes.byteLength > MAX_MANIFEST_SIZE) {
      throw new RegistryError('SIZE_INVALID', `manifest is larger than the ${MAX_MANIFEST_SIZE}-byte limit`, {
        status: 413,
      });
    }
    const parsed = parseManifestBody(bytes, contentType);
    const algorithm = reference.digest ? digestAlgorithm(reference.digest) : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
    if (reference.digest && reference.digest !== digest) {
      throw new RegistryError(
        'DIGEST_INVALID',
        `manifest content has digest ${digest}, not ${reference.digest} named in the URL; push it by tag or by its own digest`,
        {
          detail: { expected: reference.digest, actual: digest },
        },
      );
    }
    const missing: ManifestDescriptor[] = [];
    if (parsed.kind === 'index') {
      await Promise.all(parsed.manifests.map(async (m) => (await this.hasManifest(repo, m.digest)) || missing.push(m)));
    } else {
      const blobs = [...(parsed.config ? [parsed.config] : []), ...parsed.layers.filter((l) => !l.urls?.length)];
      await Promise.all(blobs.map(async (b) => (await this.repoBlob(repo, b.digest)) || missing.push(b)));
    }
    if (missing.length > 0) {
      const first = missing[0]!;
      throw new RegistryError(
        'MANIFEST_BLOB_UNKNOWN',
        `manifest references ${first.mediaType} ${first.digest}, which is not in repository ${repo}; push it first`,
        { detail: { digest: first.digest } },
      );
    }
    if (!(await this.statBlob(digest))) await this.driver.putContent(layout.blobData(digest), bytes);
    await this.driver.putContent(layout.revisionLink(repo, digest), encoder.encode(digest));
    if (parsed.subject) {
      const entry: ReferrerDescriptor = {
        mediaType: parsed.mediaType,
        digest,
        size: bytes.byteLength,
        ...(parsed.artifactType
          ? { artifactType: parsed.artifactType }
          : parsed.config
            ? { artifactType: parsed.config.mediaType }
            : {}),
        ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
      };
      await this.driver.putContent(
        layout.referrerEntry(repo, parsed.subject.digest, digest),
        encoder.encode(JSON.stringify(entry)),
      );
    }
    if (reference.tag) {
      await this.driver.putContent(layout.tagIndexLink(repo, reference.tag, digest), encoder.encode(digest));
      await this.driver.putContent(layout.tagCurrent(repo, reference.tag), encoder.encode(digest));
    }
    return { digest, parsed };
  }

  /** Stores a manifest fetched by the pull-through cache (its references arrive lazily, so they are not checked). */
  async putProxiedManifest(
    repo: string,
    bytes: Uint8Array,
    reference: { tag?: string; digest?: Digest },
  ): Promise<Digest> {
    const algorithm = reference.digest ? digestAlgorithm(reference.digest) : 'sha256';
    const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;
    if (reference.digest && reference.digest !== digest) {
      throw new RegistryError(
        'DIGEST_INVALID',
        `upstream manifest has digest ${digest}, not the requested ${reference.digest}`,
        { status: 502 },
      );
    }
    if (!(await this.statBlob(digest))) await this.driver.putContent(layout.blobData(digest), bytes);
    await this.driver.putContent(layout.revisionLink(repo, digest), encoder.encode(digest));
    if (reference.tag) await this.driver.putContent(layout.tagCurrent(repo, reference.tag), encoder.encode(digest));
    return digest;
  }

  /** Deletes a manifest revision, every tag pointing at it and its referrer entry; false when absent. */
  async deleteManifest(repo: string, digest: Digest): Promise<boolean> {
    if (!(await this.hasManifest(repo, digest))) return false;
    const content = await this.manifestContent(digest);
    for (const tag of await this.driver.list(layout.tagsRoot(repo))) {
      if ((await this.resolveTag(repo, tag)) === digest) await this.driver.delete(layout.tagDir(repo, tag));
    }
    if (content) {
      try {
        const parsed = parseManifestBody(content.bytes, undefined);
        if (parsed.subject) await this.driver.delete(layout.referrerEntry(repo, parsed.subject.digest, digest));
      } catch {
        // Old manifests that do not parse have no referrer entry.
      }
    }
    await this.driver.delete(layout.revisionDir(repo, digest));
    return true;
  }

  /** Removes a tag (the manifest stays); false when the tag does not exist. */
  async deleteTag(repo: string, tag: string): Promise<boolean> {
    if (!(await this.resolveTag(repo, tag))) return false;
    await this.driver.delete(layout.tagDir(repo, tag));
    return true;
  }

  /** True when anything was ever stored for the repository. */
  async repositoryExists(repo: string): Promise<boolean> {
    return (await this.driver.stat(layout.repo(repo)))?.isDir === true;
  }

  /** The repository's tags in lexical order, or undefined when the repository does not exist. */
  async listTags(repo: string): Promise<string[] | undefined> {
    const names = await this.driver.list(layout.tagsRoot(repo));
    if (names.length === 0 && !(await this.repositoryExists(repo))) return undefined;
    const tags: string[] = [];
    await Promise.all(names.map(async (t) => (await this.resolveTag(repo, t)) && tags.push(t)));
    return tags.sort(compareLexical);
  }

  /** Every manifest digest stored in the repository. */
  async listManifests(repo: string): Promise<Digest[]> {
    const out: Digest[] = [];
    for (const alg of await this.driver.list(layout.revisionsRoot(repo))) {
      for (const hex of await this.driver.list(`${layout.revisionsRoot(repo)}/${alg}`)) {
        const d = hexOf(alg, hex);
        if (d) out.push(d);
      }
    }
    return out;
  }

  /** Every blob digest linked in the repository, with the link's age. */
  async listLayerLinks(repo: string): Promise<{ digest: Digest; modTime: Date }[]> {
    const out: { digest: Digest; modTime: Date }[] = [];
    for (const alg of await this.driver.list(layout.layersRoot(repo))) {
      for (const hex of await this.driver.list(`${layout.layersRoot(repo)}/${alg}`)) {
        const d = hexOf(alg, hex);
        if (!d) continue;
        const s = await this.driver.stat(layout.layerLink(repo, d));
        if (s) out.push({ digest: d, modTime: s.modTime });
      }
    }
    return out;
  }

  /** Every repository name, in lexical order. */
  async catalog(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const children = await this.driver.list(dir);
      if (children.some((c) => c === '_manifests' || c === '_layers' || c === '_uploads')) out.push(prefix);
      for (const c of children) {
        if (c.startsWith('_')) continue;
        await walk(`${dir}/${c}`, prefix ? `${prefix}/${c}` : c);
      }
    };
    await walk(layout.reposRoot, '');
    return out.filter((n) => n !== '').sort(compareLexical);
  }

  /** The manifests whose `subject` is `digest`, optionally only those of one artifact type. */
  async referrers(repo: string, digest: Digest, artifactType?: string): Promise<ReferrerDescriptor[]> {
    const dir = layout.referrersDir(repo, digest);
    const entries = await this.driver.list(dir);
    const out: ReferrerDescriptor[] = [];
    await Promise.all(
      entries.map(async (name) => {
        if (!isDigest(name)) return;
        const bytes = await this.driver.getContent(`${dir}/${name}`);
        if (!bytes || !(await this.hasManifest(repo, name))) return;
        try {
          const d = JSON.parse(decoder.decode(bytes)) as ReferrerDescriptor;
          if (artifactType === undefined || d.artifactType === artifactType) out.push(d);
        } catch {
          // An unreadable entry is skipped; the manifest itself is still served.
        }
      }),
    );
    return out.sort((a, b) => compareLexical(a.digest, b.digest));
  }

  /** Every stored blob digest with its size and age (for garbage collection). */
  async *listBlobs(): AsyncGenerator<Digest> {
    for (const alg of await this.driver.list(layout.blobsRoot)) {
      for (const prefix of await this.driver.list(`${layout.blobsRoot}/${alg}`)) {
        for (const hex of await this.driver.list(`${layout.blobsRoot}/${alg}/${prefix}`)) {
          const d = hexOf(alg, hex);
          if (d) yield d;
        }
      }
    }
  }

  /** Deletes a blob's content (garbage collection only). */
  async deleteBlobContent(digest: Digest): Promise<void> {
    this.#cache.delete(digest);
    await this.driver.delete(layout.blobDir(digest));
  }
}

/** Byte-wise lexical order (what distribution and the spec mean by "lexical"). */
export function compareLexical(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
