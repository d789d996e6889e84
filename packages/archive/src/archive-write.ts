import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  contentErrors,
  createHasher,
  type Digest,
  digestAlgorithm,
  digestHex,
  type FileHasher,
  fileHasher,
  type Hasher,
  verifyBytes,
  verifyingStream,
} from '@lade/digest';
import {
  buildIndex,
  type CopyEvent,
  type CopyOptions,
  canonicalJson,
  copy,
  type Descriptor,
  type ImageSink,
  type ImageSource,
  MAX_MANIFEST_SIZE,
  type ParsedManifest,
  parseImageConfig,
  parseManifest,
  readBounded,
  type TransportOptions,
  type WriteBlobOptions,
  type WriteManifestOptions,
} from '@lade/manifest';
import { familiarName, familiarString, normalizeReference } from '@lade/reference';
import { type OpenArchiveOptions, openArchive } from './archive-read.js';
import { type Compression, compressStream, decompressStream, sniffCompression } from './compression.js';
import { ArchiveError, ArchiveUnsupportedError, SpoolError } from './errors.js';
import { readFileStream, writeFileAtomic, writeStreamToFile } from './file-streams.js';
import { createTarWriter } from './tar/writer.js';

/**
 * What an archive writer produces: `docker` (Docker 25+: an OCI layout plus manifest.json and repositories, readable by
 * `docker load` old and new), `docker-legacy` (`<id>/layer.tar` with uncompressed layers, for pre-25 tools) or `oci`
 * (an OCI image layout in a tar, as `oci-archive:`). `legacy` is another name for `docker-legacy` (docker's `--format legacy`).
 */
export type ArchiveFormat = 'docker' | 'docker-legacy' | 'oci' | 'legacy';

/** Options of {@link createArchiveWriter}. */
export interface ArchiveWriterOptions {
  readonly format?: ArchiveFormat;
  /** Where `docker-legacy` spools layers while it learns which blob is what (default: the OS temp dir). */
  readonly tempDir?: string;
}

/** An image an archive writer holds once its sink committed. */
export interface WrittenImage {
  readonly names: readonly string[];
  readonly descriptor: Descriptor;
  readonly bytes: Uint8Array;
}

const MTIME = 0; // reproducible archives: the content decides the bytes, not the clock
const encoder = new TextEncoder();

interface SpooledBlob {
  readonly path: string;
  /** Uncompressed size and digest (layers are stored uncompressed in the legacy format). */
  readonly size: number;
  readonly diffId: Digest;
}

function blobName(d: Digest): string {
  return `blobs/${d.slice(0, d.indexOf(':'))}/${digestHex(d)}`;
}

function tagOf(name: string): { full: string; familiar: string; repo: string; tag: string } | undefined {
  try {
    const ref = normalizeReference(name);
    if (ref.tag === undefined) return undefined;
    return {
      full: `${ref.domain}/${ref.path}:${ref.tag}`,
      familiar: familiarString(ref),
      repo: familiarName(ref),
      tag: ref.tag,
    };
  } catch {
    return undefined;
  }
}

/**
 * The archive file being written, for {@link saveImages} to a path without compression: the tar's offsets are the
 * file's, so a blob can be hashed back from the file on a worker thread (fileHasher) while the next one streams,
 * instead of on the thread that moves the bytes. Fed by writeFileAtomic's hooks.
 * @internal
 */
export class ArchiveOutputFile {
  path: string | undefined;
  written = 0;
  readonly #followers = new Set<{ hasher: FileHasher; end: number }>();
  readonly #waiters = new Set<{ end: number; resolve: () => void }>();

  /** The file holds its first `bytes` bytes. */
  update(bytes: number): void {
    this.written = bytes;
    for (const f of this.#followers) {
      f.hasher.advance(Math.min(bytes, f.end));
      if (bytes >= f.end) this.#followers.delete(f);
    }
    for (const w of this.#waiters) {
      if (bytes >= w.end) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  /** Feeds `hasher` the written offsets up to `end`. */
  follow(hasher: FileHasher, end: number): void {
    if (this.written > 0) hasher.advance(Math.min(this.written, end));
    if (this.written < end) this.#followers.add({ hasher, end });
  }

  /** Resolves once the file holds its first `end` bytes. */
  reached(end: number): Promise<void> {
    if (this.written >= end) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ end, resolve }));
  }
}

/**
 * Writes images into one tar stream (`readable`), read by the caller while images are copied into `sink(names)`.
 * In the `docker` and `oci` formats blobs go into the tar as they arrive (verified on the way; nothing is held);
 * `finish()` adds index.json, manifest.json and repositories and ends the tar.
 */
export class ArchiveWriter {
  readonly format: Exclude<ArchiveFormat, 'legacy'>;
  readonly readable: ReadableStream<Uint8Array>;
  readonly images: WrittenImage[] = [];
  private readonly tar = createTarWriter({ format: 'pax' });
  private readonly written = new Set<string>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly spooled = new Map<string, SpooledBlob>();
  private readonly manifests = new Map<string, Uint8Array>();
  /** One spool directory, made once even when blobs arrive concurrently. */
  private spoolDir: Promise<string> | undefined;
  private spoolCount = 0;
  private failed: unknown;
  private finished = false;
  /** Blobs hashed back from the output file, checked before the archive is committed (see verified()). */
  private readonly verifications: Promise<void>[] = [];
  private readonly hashers = new Set<FileHasher>();

  constructor(
    private readonly options: ArchiveWriterOptions = {},
    private readonly output?: ArchiveOutputFile,
  ) {
    const format = options.format ?? 'docker';
    this.format = format === 'legacy' ? 'docker-legacy' : format;
    this.readable = this.tar.readable;
  }

  private started: Promise<void> | undefined;

  /** The directory entries come first, queued before any blob even when blobs arrive concurrently. */
  private ensureStarted(): Promise<void> {
    if (this.format === 'docker-legacy') return Promise.resolve();
    this.started ??= Promise.all([
      this.tar.add({ header: { name: 'blobs/', type: 'directory', mtime: MTIME } }),
      this.tar.add({ header: { name: 'blobs/sha256/', type: 'directory', mtime: MTIME } }),
    ]).then(() => undefined);
    return this.started;
  }

  private check(): void {
    if (this.failed) throw this.failed;
    if (this.finished) throw new ArchiveError('the archive is already finished; start a new one');
  }

  has(digest: string): boolean {
    return this.written.has(digest) || this.spooled.has(digest);
  }

  /** Adds a blob (verified against its descriptor); a second write of the same digest is skipped. */
  async writeBlob(d: Descriptor, content: ReadableStream<Uint8Array>, options: WriteBlobOptions = {}): Promise<void> {
    this.check();
    const inflight = this.pending.get(d.digest);
    if (this.has(d.digest) || inflight) {
      await content.cancel();
      return inflight;
    }
    const job = this.writeNewBlob(d, content, options);
    this.pending.set(d.digest, job);
    try {
      await job;
    } catch (e) {
      this.failed ??= e;
      throw e;
    } finally {
      this.pending.delete(d.digest);
    }
  }

  private async writeNewBlob(
    d: Descriptor,
    content: ReadableStream<Uint8Array>,
    options: WriteBlobOptions,
  ): Promise<void> {
    const output = this.output;
    if (this.format !== 'docker-legacy' && output?.path !== undefined) {
      await this.ensureStarted();
      await this.writeBlobHashedBack(d, content, options, output, output.path);
      return;
    }
    let seen = 0;
    const progress = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, c) {
        seen += chunk.length;
        options.onProgress?.(seen);
        c.enqueue(chunk);
      },
    });
    const verified = content
      .pipeThrough(verifyingStream({ digest: d.digest, size: d.size, name: `blob ${d.digest}` }))
      .pipeThrough(progress);
    if (this.format !== 'docker-legacy') {
      await this.ensureStarted();
      await this.tar.add({ header: { name: blobName(d.digest), size: d.size, mtime: MTIME }, body: verified });
      this.written.add(d.digest);
      return;
    }
    // Legacy: layers must be uncompressed tars of known size, and which blob is a layer is known only from the manifest.
    const parent = this.options.tempDir ?? tmpdir();
    this.spoolDir ??= mkdtemp(join(parent, 'lade-save-')).catch((e: unknown) => {
      throw new SpoolError(
        `cannot spool layers for the legacy archive in ${parent}: ${(e as Error).message}; set a writable temp directory (TMPDIR)`,
        { cause: e },
      );
    });
    const path = join(await this.spoolDir, String(this.spoolCount++));
    const sniffed = await sniffCompression(verified);
    const hasher = createHasher('sha256');
    let size = 0;
    const plain = decompressStream(sniffed.stream, sniffed.compression, { name: `layer ${d.digest}` }).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          hasher.update(chunk);
          size += chunk.length;
          c.enqueue(chunk);
        },
      }),
    );
    await writeStreamToFile(plain, path);
    this.spooled.set(d.digest, { path, size, diffId: hasher.digest() });
  }

  /**
   * Streams a blob into the tar checking only its size here; its digest is computed by a worker reading the bytes
   * back from the output file and checked by {@link verified} before the archive is committed. Where no worker can
   * start, the blob is hashed on this thread as it passes.
   */
  private async writeBlobHashedBack(
    d: Descriptor,
    content: ReadableStream<Uint8Array>,
    options: WriteBlobOptions,
    output: ArchiveOutputFile,
    path: string,
  ): Promise<void> {
    const name = `blob ${d.digest}`;
    let hasher: FileHasher | undefined;
    let inline: Hasher | undefined;
    let start = 0;
    let seen = 0;
    const checked = content.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          seen += chunk.byteLength;
          if (seen > d.size) {
            throw contentErrors.tooLong(name, d.size);
          }
          inline?.update(chunk);
          options.onProgress?.(seen);
          c.enqueue(chunk);
        },
        flush() {
          if (seen !== d.size) {
            throw contentErrors.tooShort(name, seen, d.size);
          }
          const actual = inline?.digest();
          if (actual !== undefined && actual !== d.digest) throw contentErrors.digestMismatch(name, d.digest, actual);
        },
      }),
    );
    try {
      await this.tar.add(
        { header: { name: blobName(d.digest), size: d.size, mtime: MTIME }, body: checked },
        {
          onContent: (offset) => {
            start = offset;
            hasher = fileHasher(path, digestAlgorithm(d.digest), offset);
            if (hasher) {
              this.hashers.add(hasher);
              output.follow(hasher, offset + d.size);
            } else inline = createHasher(digestAlgorithm(d.digest));
          },
        },
      );
    } catch (e) {
      hasher?.cancel();
      throw e;
    }
    this.written.add(d.digest);
    const h = hasher;
    if (!h) return;
    const end = start + d.size;
    const check = output
      .reached(end)
      .then(() => h.finish(end))
      .then((actual) => {
        if (actual !== d.digest) throw contentErrors.digestMismatch(name, d.digest, actual);
      })
      .finally(() => this.hashers.delete(h));
    check.catch(() => {}); // observed by verified()
    this.verifications.push(check);
  }

  /** Resolves once every blob hashed back from the output file matched its digest; rejects with the first mismatch. */
  async verified(): Promise<void> {
    await Promise.all(this.verifications);
  }

  /** Adds a manifest or index; a root manifest becomes an image of the archive when its sink commits. */
  async writeManifest(d: Descriptor, bytes: Uint8Array): Promise<void> {
    this.check();
    verifyBytes(bytes, { digest: d.digest, size: d.size, name: `manifest ${d.digest}` });
    this.manifests.set(d.digest, bytes);
    if (this.format !== 'docker-legacy' && !this.written.has(d.digest)) {
      await this.ensureStarted();
      await this.tar.add({ header: { name: blobName(d.digest), size: bytes.length, mtime: MTIME }, body: bytes });
      this.written.add(d.digest);
    }
  }

  addImage(image: WrittenImage): void {
    this.check();
    const parsed = parseManifest(image.bytes, image.descriptor.mediaType);
    if (this.format !== 'oci' && parsed.kind !== 'manifest') {
      throw new ArchiveUnsupportedError(
        `a docker archive holds single-platform images, but ${image.names[0] ?? image.descriptor.digest} is an index; choose a platform or write an oci archive`,
      );
    }
    this.images.push(image);
  }

  /** An ImageSink for one image; `names` become its RepoTags (docker) or ref names (oci). */
  sink(names: readonly string[] = []): ImageSink {
    return new ArchiveImageSink(this, names);
  }

  /** Writes the index files and ends the tar; the readable ends after this. */
  async finish(): Promise<void> {
    this.check();
    if (this.images.length === 0) throw new ArchiveError('no image was written to the archive; nothing to save');
    this.finished = true;
    try {
      if (this.format === 'docker-legacy') await this.finishLegacy();
      else await this.finishLayout();
      await this.tar.close();
    } finally {
      await this.cleanup();
    }
  }

  private async finishLayout(): Promise<void> {
    await this.ensureStarted();
    const manifests: Descriptor[] = [];
    const dockerEntries: unknown[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    for (const img of this.images) {
      const base: Descriptor = {
        mediaType: img.descriptor.mediaType,
        digest: img.descriptor.digest,
        size: img.descriptor.size,
      };
      const tags = img.names.map((n) => ({ name: n, tag: tagOf(n) }));
      if (tags.length === 0) manifests.push(base);
      for (const t of tags) {
        const annotations: Record<string, string> =
          this.format === 'oci'
            ? { 'org.opencontainers.image.ref.name': t.name }
            : t.tag
              ? { 'io.containerd.image.name': t.tag.full, 'org.opencontainers.image.ref.name': t.tag.tag }
              : {};
        manifests.push({ ...base, annotations });
      }
      if (this.format === 'docker') {
        const parsed = parseManifest(img.bytes, img.descriptor.mediaType);
        if (parsed.kind !== 'manifest') continue;
        const layers = parsed.manifest.layers;
        const missing = layers.find((l) => !this.written.has(l.digest));
        if (missing) {
          throw new ArchiveError(
            `layer ${missing.digest} (${missing.mediaType}) is not in the archive, and docker load needs every layer; copy foreign layers too or write an oci archive`,
          );
        }
        const repoTags = tags.flatMap((t) => (t.tag ? [t.tag.familiar] : []));
        dockerEntries.push({
          Config: blobName(parsed.manifest.config.digest),
          RepoTags: repoTags.length ? repoTags : null,
          Layers: layers.map((l) => blobName(l.digest)),
        });
        const top = layers.at(-1);
        for (const t of tags)
          if (t.tag && top) addRepository(repositories, t.tag.repo, t.tag.tag, digestHex(top.digest));
      }
    }
    await this.addJson('index.json', buildIndex({ manifests }).bytes);
    if (this.format === 'docker') {
      await this.addJson('manifest.json', canonicalJson(dockerEntries));
    }
    await this.addJson('oci-layout', canonicalJson({ imageLayoutVersion: '1.0.0' }));
    if (this.format === 'docker' && Object.keys(repositories).length > 0)
      await this.addJson('repositories', canonicalJson(repositories));
  }

  private async finishLegacy(): Promise<void> {
    const entries: unknown[] = [];
    const repositories: Record<string, Record<string, string>> = {};
    const done = new Set<string>();
    for (const img of this.images) {
      const parsed = parseManifest(img.bytes, img.descriptor.mediaType);
      if (parsed.kind !== 'manifest') continue;
      const cfg = this.spooled.get(parsed.manifest.config.digest);
      if (!cfg) throw new ArchiveError(`config ${parsed.manifest.config.digest} was not written to the archive`);
      const configBytes = await readBounded(
        readFileStream(cfg.path),
        MAX_MANIFEST_SIZE,
        () => new ArchiveError(`config ${parsed.manifest.config.digest} is over the 4 MiB limit`),
      );
      const config = parseImageConfig(configBytes);
      const diffIds = config.config.rootfs.diff_ids;
      const layerPaths: string[] = [];
      let parent: string | undefined;
      for (const [i, l] of parsed.manifest.layers.entries()) {
        const s = this.spooled.get(l.digest);
        if (!s)
          throw new ArchiveError(
            `layer ${l.digest} was not written to the archive (foreign layers cannot go into a legacy archive)`,
          );
        if (diffIds[i] !== s.diffId)
          throw new ArchiveError(
            `layer ${l.digest} uncompresses to ${s.diffId}, but the config's diff_id is ${diffIds[i]}; the image is corrupt`,
          );
        // The layer directory is named for the layer and its parents, as docker's v1 IDs are, so shared bases dedupe.
        const id = digestHex(hashText(`${parent ?? ''}\n${s.diffId}`));
        if (!done.has(id)) {
          done.add(id);
          const json = canonicalJson(
            parent ? { id, parent, created: '1970-01-01T00:00:00Z' } : { id, created: '1970-01-01T00:00:00Z' },
          );
          await this.tar.add({ header: { name: `${id}/`, type: 'directory', mtime: MTIME } });
          await this.tar.add({ header: { name: `${id}/VERSION`, mtime: MTIME }, body: '1.0' });
          await this.tar.add({ header: { name: `${id}/json`, mtime: MTIME }, body: json });
          await this.tar.add({
            header: { name: `${id}/layer.tar`, size: s.size, mtime: MTIME },
            body: readFileStream(s.path),
          });
        }
        layerPaths.push(`${id}/layer.tar`);
        parent = id;
      }
      const configName = `${digestHex(config.digest)}.json`;
      if (!done.has(configName)) {
        done.add(configName);
        await this.tar.add({ header: { name: configName, mtime: MTIME }, body: configBytes });
      }
      const repoTags = img.names.flatMap((n) => {
        const t = tagOf(n);
        return t ? [t.familiar] : [];
      });
      entries.push({ Config: configName, RepoTags: repoTags.length ? repoTags : null, Layers: layerPaths });
      for (const n of img.names) {
        const t = tagOf(n);
        if (t && parent) addRepository(repositories, t.repo, t.tag, parent);
      }
    }
    await this.addJson('manifest.json', canonicalJson(entries));
    if (Object.keys(repositories).length > 0) await this.addJson('repositories', canonicalJson(repositories));
  }

  private async addJson(name: string, bytes: Uint8Array): Promise<void> {
    await this.tar.add({ header: { name, mtime: MTIME }, body: bytes });
  }

  /** Ends the tar stream with an error and removes spooled files. */
  async abort(reason?: unknown): Promise<void> {
    this.failed ??= reason ?? new ArchiveError('the archive was aborted');
    for (const h of this.hashers) h.cancel();
    this.hashers.clear();
    await this.tar.abort(reason).catch(() => {});
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    const dir = this.spoolDir;
    this.spoolDir = undefined;
    const path = await dir?.catch(() => undefined);
    if (path) await rm(path, { recursive: true, force: true });
  }
}

function addRepository(
  repositories: Record<string, Record<string, string>>,
  repo: string,
  tag: string,
  id: string,
): void {
  repositories[repo] = { ...repositories[repo], [tag]: id };
}

function hashText(s: string): Digest {
  const h = createHasher('sha256');
  h.update(encoder.encode(s));
  return h.digest();
}

class ArchiveImageSink implements ImageSink {
  readonly name: string;
  /** The writer hashes every blob on its way into the tar (or the legacy spool) and aborts the archive on a mismatch. */
  readonly verifiesBlobs = true;
  private root: { descriptor: Descriptor; bytes: Uint8Array } | undefined;

  constructor(
    private readonly writer: ArchiveWriter,
    private readonly names: readonly string[],
  ) {
    this.name = `${writer.format === 'oci' ? 'oci-archive' : 'docker-archive'}:${names[0] ?? '(untagged)'}`;
  }

  async hasBlob(d: Descriptor): Promise<boolean> {
    return this.writer.has(d.digest);
  }

  async hasManifest(d: Descriptor): Promise<boolean> {
    return this.writer.has(d.digest);
  }

  writeBlob(d: Descriptor, content: ReadableStream<Uint8Array>, options: WriteBlobOptions = {}): Promise<void> {
    return this.writer.writeBlob(d, content, options);
  }

  async writeManifest(d: Descriptor, bytes: Uint8Array, options: WriteManifestOptions = {}): Promise<void> {
    await this.writer.writeManifest(d, bytes);
    if (options.root) this.root = { descriptor: d, bytes };
  }

  async commit(_options?: TransportOptions): Promise<void> {
    if (!this.root) throw new ArchiveError(`${this.name}: commit without a root manifest; copy writes one first`);
    this.writer.addImage({ names: this.names, descriptor: this.root.descriptor, bytes: this.root.bytes });
  }
}

/** Creates an {@link ArchiveWriter}. */
export function createArchiveWriter(options: ArchiveWriterOptions = {}): ArchiveWriter {
  return new ArchiveWriter(options);
}

/** One image to save: where it comes from and the names it gets in the archive. */
export interface SaveImage {
  readonly source: ImageSource;
  readonly names?: readonly string[];
}

/** Options of {@link saveImages}. */
export interface SaveOptions extends ArchiveWriterOptions {
  /** Compress the whole archive (`docker save | gzip`); default none. */
  readonly compression?: Compression;
  readonly level?: number;
  /** Passed to `copy` (platform, all, onProgress…); blobs go one at a time, in order, so archives are reproducible. */
  readonly copy?: Omit<CopyOptions, 'signal' | 'concurrency'>;
  readonly signal?: AbortSignal;
}

/** What {@link saveImages} wrote. */
export interface SaveResult {
  readonly images: readonly {
    readonly names: readonly string[];
    readonly descriptor: Descriptor;
    readonly id?: Digest;
  }[];
}

/**
 * Saves images into one archive, like `docker save`: to a file (written atomically: a temp name renamed at the end)
 * or to a stream (stdout). Blobs shared by several images are written once.
 *
 * @example
 * await saveImages([{ source: store.source('app:1'), names: ['app:1'] }], 'app.tar');
 */
export async function saveImages(
  images: readonly SaveImage[],
  output: string | WritableStream<Uint8Array>,
  options: SaveOptions = {},
): Promise<SaveResult> {
  if (images.length === 0) throw new ArchiveError('no images to save; name at least one');
  const compression = options.compression === 'none' ? undefined : options.compression;
  // An uncompressed archive file: blobs are hashed back from it on a worker (see ArchiveOutputFile).
  const file = typeof output === 'string' && !compression ? new ArchiveOutputFile() : undefined;
  const writer = new ArchiveWriter(options, file);
  const body = compression
    ? compressStream(writer.readable, compression, options.level !== undefined ? { level: options.level } : {})
    : writer.readable;
  const done =
    typeof output === 'string'
      ? writeFileAtomic(
          body,
          output,
          file
            ? {
                onTemp: (p) => {
                  file.path = p;
                },
                onWritten: (bytes) => file.update(bytes),
                beforeCommit: () => writer.verified(),
              }
            : {},
        )
      : body.pipeTo(output);
  done.catch(() => {});
  try {
    for (const img of images) {
      await copy(img.source, writer.sink(img.names ?? []), {
        ...options.copy,
        // The tar takes one blob at a time anyway; one in flight keeps the blob order (and so the archive's bytes)
        // independent of which source read finishes first.
        concurrency: 1,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    }
    await writer.finish();
    await done;
  } catch (e) {
    await writer.abort(e);
    await done.catch(() => {});
    throw e;
  }
  return {
    images: writer.images.map((img) => {
      const parsed: ParsedManifest = parseManifest(img.bytes, img.descriptor.mediaType);
      return {
        names: img.names,
        descriptor: img.descriptor,
        ...(parsed.kind === 'manifest' ? { id: parsed.manifest.config.digest } : {}),
      };
    }),
  };
}

/**
 * A single-image ImageSink that writes an archive file (for `lade copy … docker-archive:FILE[:NAME]`):
 * the file appears, complete, when `commit()` resolves; `close()` before that discards it.
 */
export function archiveFileSink(
  path: string,
  options: ArchiveWriterOptions & { readonly names?: readonly string[] } = {},
): ImageSink {
  const writer = createArchiveWriter(options);
  const inner = writer.sink(options.names ?? []);
  const done = writeFileAtomic(writer.readable, path);
  done.catch(() => {});
  let committed = false;
  return {
    name: `${writer.format === 'oci' ? 'oci-archive' : 'docker-archive'}:${path}`,
    verifiesBlobs: true,
    hasBlob: (d) => inner.hasBlob(d),
    hasManifest: (d) => inner.hasManifest!(d),
    writeBlob: (d, c, o) => inner.writeBlob(d, c, o),
    writeManifest: (d, b, o) => inner.writeManifest(d, b, o),
    async commit() {
      await inner.commit!();
      await writer.finish();
      await done;
      committed = true;
    },
    async close() {
      if (committed) return;
      await writer.abort(new ArchiveError(`writing ${path} was abandoned`));
      await done.catch(() => {});
    },
  };
}

/** What {@link loadArchive} loaded, with the lines `docker load` prints. */
export interface LoadResult {
  readonly images: readonly {
    readonly names: readonly string[];
    readonly id?: Digest;
    readonly descriptor: Descriptor;
  }[];
  /** `Loaded image: NAME:TAG` per name, `Loaded image ID: sha256:…` for an untagged image. */
  readonly lines: readonly string[];
  /** Layers the destination already had (docker reports them as existing). */
  readonly existingLayers: readonly Digest[];
}

/** Options of {@link loadArchive}. */
export interface LoadOptions {
  readonly tempDir?: string;
  /** See {@link OpenArchiveOptions.blobSink}: streamed Docker 25+/OCI blobs go here as they pass instead of to temp files. */
  readonly blobSink?: ImageSink;
  readonly maxUncompressedBytes?: number;
  readonly onProgress?: (event: CopyEvent) => void;
  readonly signal?: AbortSignal;
}

/**
 * Loads every image of a docker-archive or oci-archive (file or stream; gzip/zstd sniffed) into sinks, like `docker load`.
 * `sinkFor(name)` gives the sink that names the image (`undefined` for an untagged image).
 *
 * @example
 * const { lines } = await loadArchive(process.stdin, (name) => store.sink(name ?? ''));
 */
export async function loadArchive(
  input: string | ReadableStream<Uint8Array>,
  sinkFor: (
    name: string | undefined,
    image: { readonly id?: Digest; readonly descriptor: Descriptor },
  ) => ImageSink | Promise<ImageSink>,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const archive = await openArchive(input, {
    ...(options.tempDir ? { tempDir: options.tempDir } : {}),
    ...(options.maxUncompressedBytes !== undefined ? { maxUncompressedBytes: options.maxUncompressedBytes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.blobSink ? { blobSink: options.blobSink } : {}),
  });
  const existing = new Set<Digest>();
  const lines: string[] = [];
  try {
    for (const img of archive.images) {
      const targets = img.names.length > 0 ? img.names : [undefined];
      for (const name of targets) {
        const sink = await sinkFor(name, img);
        try {
          await copy(img.source(), sink, {
            all: true,
            ...(options.signal ? { signal: options.signal } : {}),
            onProgress: (e) => {
              if (e.type === 'exists' && e.role === 'layer') existing.add(e.descriptor.digest);
              options.onProgress?.(e);
            },
          });
        } finally {
          await sink.close?.();
        }
        lines.push(
          name !== undefined ? `Loaded image: ${name}` : `Loaded image ID: ${img.id ?? img.descriptor.digest}`,
        );
      }
    }
  } finally {
    await archive.close();
  }
  return {
    images: archive.images.map((i) => ({ names: i.names, descriptor: i.descriptor, ...(i.id ? { id: i.id } : {}) })),
    lines,
    existingLayers: [...existing],
  };
}
