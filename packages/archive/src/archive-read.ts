import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHasher, type Digest, hash, isDigest, LadeError } from '@lade/digest';
import {
  buildManifest,
  type Descriptor,
  type ImageSink,
  type ImageSource,
  MediaType,
  type OpenBlobOptions,
  type ParsedImageManifest,
  parseImageConfig,
  parseManifest,
} from '@lade/manifest';
import { familiarString, normalizeReference } from '@lade/reference';
import { type Compression, decompress, detectCompression } from './compression.js';
import { ArchiveError, ArchiveUnsupportedError, SpoolError } from './errors.js';
import { readFileHead, readFileStream, writeStreamToFile } from './file-streams.js';
import { readAll, readTar, readTarFile, type TarReader } from './tar/reader.js';

/** Where an archive comes from: a file path (seekable: uncompressed archives are read in place) or a stream (spooled as needed). */
export type ArchiveInput = string | ReadableStream<Uint8Array>;

/** Options of {@link openArchive}. */
export interface OpenArchiveOptions {
  /** Where layers of a streamed or compressed archive are spooled (default: the OS temp dir). Removed by `close()`. */
  readonly tempDir?: string;
  /** Total bytes of JSON and small blobs held in memory (default 64 MiB); beyond it small blobs spool to disk. */
  readonly maxMemoryBytes?: number;
  /** Refuse a compressed archive that expands beyond this many bytes (default: unlimited; a bound for untrusted input). */
  readonly maxUncompressedBytes?: number;
  readonly signal?: AbortSignal;
  /**
   * For a streamed (non-seekable) archive: blobs whose path names their digest (`blobs/sha256/…`, Docker 25+ and OCI
   * archives) go straight into this sink as they pass, verified by it, instead of being spooled to disk. The sink must
   * share storage with the sinks the images are later copied into (e.g. a sink of the same store), which then already
   * have those blobs.
   */
  readonly blobSink?: ImageSink;
}

/** One image of an archive. */
export interface ArchiveImage {
  /** Position in manifest.json (docker) or index.json (OCI). */
  readonly index: number;
  /** Names as the archive gives them: docker's RepoTags (familiar form) or OCI `org.opencontainers.image.ref.name`. */
  readonly names: readonly string[];
  /** The image's root descriptor (a manifest, or an index in OCI archives). */
  readonly descriptor: Descriptor;
  /** The config digest — docker's image ID — for image manifests. */
  readonly id?: Digest;
  /** An ImageSource bound to this image. */
  source(): ImageSource;
}

/** A docker-archive or oci-archive, scanned and ready to serve its images. */
export interface Archive {
  readonly format: 'docker' | 'oci';
  /** `docker-legacy` for `<id>/layer.tar` archives, `docker` for Docker 25+ (OCI layout inside), `oci` for OCI archives. */
  readonly layout: 'docker-legacy' | 'docker' | 'oci';
  readonly compression: Compression;
  readonly images: readonly ArchiveImage[];
  /**
   * An ImageSource for one image: by name (`app:1`, matched like docker: normalized), by image ID or manifest digest
   * (or a prefix of at least 12 hex digits), by index; the only image when omitted.
   */
  source(selector?: string | number): ImageSource;
  /** Removes spooled files. */
  close(): Promise<void>;
}

/** Where the content of one archive member lives. */
interface Member {
  readonly size: number;
  /** First bytes, to tell compression. */
  readonly head: Uint8Array;
  bytes?: Uint8Array;
  range?: number;
  spool?: string;
  /** Written to the blob sink while the archive streamed past. */
  sunk?: boolean;
  digest?: Digest;
}

const META_LIMIT = 4 * 1024 * 1024;

/** Normalizes an archive member path, refusing absolute paths and `..` (a hostile archive must not name anything outside). */
export function normalizeMemberPath(raw: string, what = 'archive entry'): string {
  if (raw.startsWith('/'))
    throw new ArchiveError(
      `${what} "${raw}": absolute paths are not allowed in an image archive; the archive is hostile or corrupt`,
    );
  const parts: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..')
      throw new ArchiveError(
        `${what} "${raw}": ".." is not allowed in an image archive path; the archive is hostile or corrupt`,
      );
    parts.push(part);
  }
  return parts.join('/');
}

function resolveLink(from: string, target: string, symbolic: boolean): string {
  if (target.startsWith('/'))
    throw new ArchiveError(`archive link "${from}" → "${target}" points outside the archive; refusing it`);
  const base = symbolic ? from.split('/').slice(0, -1) : [];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (base.length === 0)
        throw new ArchiveError(`archive link "${from}" → "${target}" points outside the archive; refusing it`);
      base.pop();
    } else base.push(part);
  }
  return base.join('/');
}

function isLayerName(name: string): boolean {
  return /(^|\/)layer\.tar$|\.(tar|tar\.gz|tgz|tar\.zst)$/.test(name);
}

const blobPath = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;

function digestFromPath(name: string): Digest | undefined {
  const m = blobPath.exec(name);
  if (!m) return undefined;
  const d = `${m[1]}:${m[2]}`;
  return isDigest(d) ? d : undefined;
}

class Scan {
  readonly members = new Map<string, Member>();
  readonly links = new Map<string, string>();
  memoryUsed = 0;
  spoolDir: string | undefined;
  compression: Compression = 'none';
  private spoolCount = 0;

  constructor(private readonly options: OpenArchiveOptions) {}

  async spoolPath(): Promise<string> {
    const parent = this.options.tempDir ?? tmpdir();
    this.spoolDir ??= await mkdtemp(join(parent, 'lade-archive-')).catch((e: unknown) => {
      throw new SpoolError(
        `cannot spool the archive's layers in ${parent}: ${(e as Error).message}; set a writable temp directory (TMPDIR)`,
        { cause: e },
      );
    });
    return join(this.spoolDir, String(this.spoolCount++));
  }

  resolve(name: string): Member | undefined {
    let n = name;
    for (let i = 0; i < 32; i++) {
      const m = this.members.get(n);
      if (m) return m;
      const next = this.links.get(n);
      if (next === undefined) return undefined;
      n = next;
    }
    throw new ArchiveError(`archive entry "${name}": too many levels of links`);
  }
}

async function scanArchive(input: ArchiveInput, options: OpenArchiveOptions): Promise<Scan> {
  const scan = new Scan(options);
  const maxMemory = options.maxMemoryBytes ?? 64 * 1024 * 1024;
  let seekable: string | undefined;
  let reader: TarReader;
  const tarOptions = options.signal ? { signal: options.signal } : {};
  if (typeof input === 'string') {
    const head = await readFileHead(input, 4).catch((e: unknown) => {
      throw new ArchiveError(`cannot read archive ${input}: ${(e as Error).message}`, { cause: e });
    });
    if (detectCompression(head) === 'none') seekable = input;
  }
  if (seekable) {
    // An uncompressed file: walk the headers with positional reads; layers stay where they are.
    reader = await readTarFile(seekable, tarOptions);
  } else {
    const raw = typeof input === 'string' ? readFileStream(input) : input;
    const { compression, stream } = await decompress(raw, {
      name: typeof input === 'string' ? input : 'archive',
      ...(options.maxUncompressedBytes !== undefined ? { maxOutputBytes: options.maxUncompressedBytes } : {}),
    });
    scan.compression = compression;
    reader = readTar(stream, tarOptions);
  }
  try {
    for await (const entry of reader) {
      options.signal?.throwIfAborted();
      const h = entry.header;
      const name = normalizeMemberPath(h.name);
      if (h.type === 'directory' || name === '') continue;
      if (h.type === 'symlink' || h.type === 'hardlink') {
        scan.links.set(name, resolveLink(name, h.linkname, h.type === 'symlink'));
        continue;
      }
      if (h.type !== 'file')
        throw new ArchiveError(
          `archive entry "${name}" is a ${h.type}; image archives hold only files, directories and links`,
        );
      const blobDigest = digestFromPath(name);
      // Layers (blobs, `<id>/layer.tar`, skopeo's `<digest>.tar`, ggcr's `.tar.gz`) stream; everything else is JSON-sized metadata.
      const layerLike = blobDigest !== undefined || isLayerName(name);
      if (!layerLike) {
        if (h.size > META_LIMIT) {
          throw new ArchiveError(
            `archive entry "${name}" is ${h.size} bytes, more than the ${META_LIMIT}-byte limit for metadata; the archive is corrupt or hostile`,
          );
        }
        if (scan.memoryUsed + h.size > maxMemory) {
          throw new ArchiveError(
            `archive metadata exceeds the ${maxMemory}-byte memory limit at "${name}"; the archive is corrupt or hostile`,
          );
        }
      }
      // Small blobs may be manifests or configs: keep them in memory while the budget lasts.
      if (!layerLike || (blobDigest && h.size <= META_LIMIT && scan.memoryUsed + h.size <= maxMemory)) {
        const bytes = await entry.bytes(META_LIMIT);
        scan.memoryUsed += bytes.length;
        scan.members.set(name, { size: bytes.length, head: bytes.subarray(0, 4), bytes });
        continue;
      }
      // Layers: read in place (uncompressed file) or spooled to disk; hashed on the way when the path does not say the digest.
      const hasher = blobDigest || seekable ? undefined : createHasher('sha256');
      let head = new Uint8Array(0);
      const tap = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, c) {
          if (head.length < 4) head = Uint8Array.from([...head, ...chunk.subarray(0, 4 - head.length)]);
          hasher?.update(chunk);
          c.enqueue(chunk);
        },
      });
      const member: Member = { size: h.size, head };
      if (seekable && !h.sparse) {
        // In place: only the first bytes are read (to tell compression); the reader seeks past the rest.
        member.range = h.dataOffset;
        const r = entry.body.getReader();
        const first = await r.read();
        if (!first.done) head = first.value.slice(0, 4);
        r.releaseLock();
      } else if (options.blobSink && blobDigest) {
        const d: Descriptor = { mediaType: 'application/octet-stream', digest: blobDigest, size: h.size };
        if (await options.blobSink.hasBlob(d)) {
          const r = entry.body.pipeThrough(tap).getReader();
          for (;;) if ((await r.read()).done) break;
        } else
          await options.blobSink.writeBlob(
            d,
            entry.body.pipeThrough(tap),
            options.signal ? { signal: options.signal } : {},
          );
        member.sunk = true;
      } else {
        member.spool = await scan.spoolPath();
        await writeStreamToFile(entry.body.pipeThrough(tap), member.spool);
      }
      (member as { head: Uint8Array }).head = head;
      const digest = blobDigest ?? hasher?.digest();
      if (digest) member.digest = digest;
      scan.members.set(name, member);
    }
  } catch (e) {
    if (scan.spoolDir) await rm(scan.spoolDir, { recursive: true, force: true });
    throw e;
  }
  return scan;
}

/**
 * The digest of a layer read in place: an uncompressed layer tar is its own diff_id (as docker load takes it; copy
 * verifies every byte before anything is stored), a compressed one is hashed now (a second pass over the file).
 */
async function layerDigest(m: Member, diffId: Digest, blobs: BlobIndex): Promise<Digest> {
  if (m.bytes) return hash(m.bytes);
  if (detectCompression(m.head) === 'none') return diffId;
  const h = createHasher('sha256');
  const r = blobs.open(m, 0).getReader();
  for (;;) {
    const x = await r.read();
    if (x.done) break;
    h.update(x.value);
  }
  return h.digest();
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ArchiveError(`${what} is not valid JSON (${(e as Error).message}); the archive is corrupt`, { cause: e });
  }
}

interface DockerManifestEntry {
  readonly Config: string;
  readonly RepoTags: readonly string[];
  readonly Layers: readonly string[];
}

function validateDockerManifest(value: unknown): DockerManifestEntry[] {
  if (value === null)
    throw new ArchiveError('manifest.json is null: the archive lists no images; it is corrupt or not a docker save');
  if (!Array.isArray(value))
    throw new ArchiveError('manifest.json must be a JSON array of images; the archive is corrupt');
  if (value.length === 0) throw new ArchiveError('manifest.json lists no images; nothing to load');
  return value.map((v: unknown, i): DockerManifestEntry => {
    const o = v as Record<string, unknown> | null;
    if (typeof o !== 'object' || o === null || typeof o.Config !== 'string')
      throw new ArchiveError(`manifest.json entry ${i} has no Config path; the archive is corrupt`);
    const layers = o.Layers ?? [];
    if (!Array.isArray(layers) || !layers.every((l) => typeof l === 'string'))
      throw new ArchiveError(`manifest.json entry ${i}: Layers must be a list of paths`);
    const tags = o.RepoTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string'))
      throw new ArchiveError(`manifest.json entry ${i}: RepoTags must be a list of names`);
    return { Config: o.Config, RepoTags: tags as string[], Layers: layers as string[] };
  });
}

function layerMediaType(head: Uint8Array, docker: boolean): string {
  const c = detectCompression(head);
  if (c === 'gzip') return docker ? MediaType.DOCKER_LAYER_GZIP : MediaType.OCI_LAYER_GZIP;
  if (c === 'zstd') return MediaType.OCI_LAYER_ZSTD;
  return docker ? MediaType.DOCKER_LAYER : MediaType.OCI_LAYER;
}

/** Content of the archive by digest: members, plus manifests lade synthesized. */
class BlobIndex {
  readonly byDigest = new Map<string, Member>();
  readonly synthesized = new Map<string, Uint8Array>();

  constructor(
    private readonly scan: Scan,
    private readonly archivePath: string | undefined,
  ) {}

  add(digest: Digest, member: Member): void {
    if (!this.byDigest.has(digest)) this.byDigest.set(digest, member);
  }

  async bytes(digest: string, what: string): Promise<Uint8Array> {
    const s = this.synthesized.get(digest);
    if (s) return s;
    const m = this.byDigest.get(digest);
    if (!m) throw new ArchiveError(`${what} ${digest} is not in the archive; the archive is incomplete`);
    if (m.bytes) return m.bytes;
    if (m.size > META_LIMIT)
      throw new ArchiveError(`${what} ${digest} is ${m.size} bytes, more than the ${META_LIMIT}-byte limit`);
    return readAll(this.open(m, 0), META_LIMIT, what);
  }

  open(m: Member, offset: number): ReadableStream<Uint8Array> {
    if (m.bytes) {
      const b = m.bytes.subarray(offset);
      return new ReadableStream({
        start: (c) => {
          if (b.length) c.enqueue(b);
          c.close();
        },
      });
    }
    if (m.range !== undefined)
      return readFileStream(this.archivePath!, { start: m.range + offset, length: m.size - offset });
    if (m.sunk)
      throw new ArchiveError(
        `blob ${m.digest} went to the blob sink while the archive streamed past; copy into a sink that shares its storage`,
      );
    return readFileStream(m.spool!, { start: offset, length: m.size - offset });
  }

  openBlob(d: Descriptor, offset: number): ReadableStream<Uint8Array> {
    const s = this.synthesized.get(d.digest);
    if (s)
      return new ReadableStream({
        start: (c) => {
          c.enqueue(s.subarray(offset));
          c.close();
        },
      });
    const m = this.byDigest.get(d.digest);
    if (!m) throw new LadeError('BLOB_UNKNOWN', `blob ${d.digest} is not in the archive; the archive is incomplete`);
    return this.open(m, offset);
  }

  get spoolDir(): string | undefined {
    return this.scan.spoolDir;
  }
}

class ArchiveSource implements ImageSource {
  constructor(
    readonly name: string,
    private readonly root: Descriptor,
    private readonly blobs: BlobIndex,
  ) {}

  async resolve(): Promise<Descriptor> {
    return this.root;
  }

  async fetchManifest(descriptor: Descriptor): Promise<Uint8Array> {
    const bytes = await this.blobs.bytes(descriptor.digest, 'manifest');
    if (bytes.length !== descriptor.size || hash(bytes) !== descriptor.digest) {
      throw new ArchiveError(
        `manifest ${descriptor.digest} in ${this.name} does not match its digest or size; the archive is corrupt`,
      );
    }
    return bytes;
  }

  async openBlob(descriptor: Descriptor, options: OpenBlobOptions = {}): Promise<ReadableStream<Uint8Array>> {
    options.signal?.throwIfAborted();
    return this.blobs.openBlob(descriptor, options.offset ?? 0);
  }
}

function configHexPrefix(d: string): string {
  return d.startsWith('sha256:') ? d.slice(7) : d;
}

/** Reads an archive as a docker-archive (legacy or Docker 25+) or an oci-archive, whichever it is. */
export async function openArchive(input: ArchiveInput, options: OpenArchiveOptions = {}): Promise<Archive> {
  const scan = await scanArchive(input, options);
  const archivePath = typeof input === 'string' ? input : undefined;
  const label = archivePath ?? 'archive stream';
  const blobs = new BlobIndex(scan, archivePath);
  try {
    for (const [name, m] of scan.members) {
      const d = digestFromPath(name);
      if (d) blobs.add(d, m);
    }
    const manifestJson = scan.resolve('manifest.json');
    const indexJson = scan.resolve('index.json');
    let images: ArchiveImage[];
    let layout: Archive['layout'];
    let format: Archive['format'];
    if (manifestJson) {
      format = 'docker';
      layout = indexJson ? 'docker' : 'docker-legacy';
      images = await dockerImages(scan, blobs, manifestJson, indexJson, label);
    } else if (indexJson) {
      format = 'oci';
      layout = 'oci';
      images = ociImages(indexJson, blobs, label);
    } else {
      throw new ArchiveError(
        `${label} has neither manifest.json nor index.json: it is not a docker save or an OCI archive`,
      );
    }
    const close = async () => {
      if (scan.spoolDir) await rm(scan.spoolDir, { recursive: true, force: true });
    };
    return {
      format,
      layout,
      compression: scan.compression,
      images,
      source: (selector) => selectImage(images, selector, label).source(),
      close,
    };
  } catch (e) {
    if (scan.spoolDir) await rm(scan.spoolDir, { recursive: true, force: true });
    throw e;
  }
}

async function dockerImages(
  scan: Scan,
  blobs: BlobIndex,
  manifestJson: Member,
  indexJson: Member | undefined,
  label: string,
): Promise<ArchiveImage[]> {
  const entries = validateDockerManifest(parseJson(manifestJson.bytes ?? new Uint8Array(0), 'manifest.json'));
  // Docker 25+ archives carry their OCI manifests: reuse them so digests survive a load.
  const knownManifests: ParsedImageManifest[] = [];
  if (indexJson?.bytes) {
    for (const [name, m] of scan.members) {
      if (!m.bytes || !name.startsWith('blobs/') || m.bytes[0] !== 0x7b) continue;
      try {
        const parsed = parseManifest(m.bytes);
        if (parsed.kind === 'manifest') knownManifests.push(parsed);
      } catch {
        /* a config or another JSON blob */
      }
    }
  }
  const images: ArchiveImage[] = [];
  for (const [i, e] of entries.entries()) {
    const configPath = normalizeMemberPath(e.Config, `manifest.json entry ${i} Config`);
    const configMember = scan.resolve(configPath);
    if (!configMember?.bytes)
      throw new ArchiveError(`manifest.json entry ${i}: config "${configPath}" is missing from ${label}`);
    const config = parseImageConfig(configMember.bytes);
    const diffIds = config.config.rootfs.diff_ids;
    if (diffIds.length !== e.Layers.length) {
      throw new ArchiveError(
        `manifest.json entry ${i}: ${e.Layers.length} layers but the config lists ${diffIds.length} diff_ids; the archive is corrupt`,
      );
    }
    blobs.add(config.digest, configMember);
    const layers: { digest: Digest; size: number; head: Uint8Array }[] = [];
    for (const [j, lp] of e.Layers.entries()) {
      const path = normalizeMemberPath(lp, `manifest.json entry ${i} layer`);
      const m = scan.resolve(path);
      if (!m) throw new ArchiveError(`manifest.json entry ${i}: layer "${path}" is missing from ${label}`);
      const digest = m.digest ?? digestFromPath(path) ?? (await layerDigest(m, diffIds[j]!, blobs));
      m.digest = digest;
      blobs.add(digest, m);
      if (detectCompression(m.head) === 'none' && digest !== diffIds[j]) {
        throw new ArchiveError(
          `manifest.json entry ${i}: layer "${path}" has digest ${digest} but the config's diff_id is ${diffIds[j]}; the archive is corrupt`,
        );
      }
      layers.push({ digest, size: m.size, head: m.head });
    }
    let manifest: { descriptor: Descriptor } | undefined;
    const found = knownManifests.find(
      (p) =>
        p.manifest.config.digest === config.digest &&
        p.manifest.layers.length === layers.length &&
        p.manifest.layers.every((l, k) => l.digest === layers[k]!.digest),
    );
    if (found) manifest = { descriptor: { mediaType: found.mediaType, digest: found.digest, size: found.size } };
    else {
      const docker = layers.every((l) => detectCompression(l.head) !== 'zstd');
      const built = buildManifest({
        mediaType: docker ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST,
        config: {
          mediaType: docker ? MediaType.DOCKER_CONFIG : MediaType.OCI_CONFIG,
          digest: config.digest,
          size: config.size,
        },
        layers: layers.map((l) => ({ mediaType: layerMediaType(l.head, docker), digest: l.digest, size: l.size })),
      });
      blobs.synthesized.set(built.descriptor.digest, built.bytes);
      manifest = {
        descriptor: {
          mediaType: built.descriptor.mediaType,
          digest: built.descriptor.digest,
          size: built.descriptor.size,
        },
      };
    }
    const descriptor = manifest.descriptor;
    const names = e.RepoTags.map((t) => {
      try {
        return familiarString(normalizeReference(t));
      } catch {
        throw new ArchiveError(`manifest.json entry ${i}: RepoTags "${t}" is not a valid image name`);
      }
    });
    images.push({
      index: i,
      names,
      descriptor,
      id: config.digest,
      source: () => new ArchiveSource(`docker-archive:${label}${names[0] ? `:${names[0]}` : ''}`, descriptor, blobs),
    });
  }
  return images;
}

function ociImages(indexJson: Member, blobs: BlobIndex, label: string): ArchiveImage[] {
  const bytes = indexJson.bytes ?? new Uint8Array(0);
  let parsed: ReturnType<typeof parseManifest>;
  try {
    parsed = parseManifest(bytes, MediaType.OCI_INDEX);
  } catch (e) {
    throw new ArchiveError(`index.json of ${label} is not a valid OCI index: ${(e as Error).message}`, { cause: e });
  }
  if (parsed.kind !== 'index') throw new ArchiveError(`index.json of ${label} is not an OCI index`);
  if (parsed.index.manifests.length === 0)
    throw new ArchiveError(`index.json of ${label} lists no images; nothing to load`);
  return parsed.index.manifests.map((d, i) => {
    const ref = d.annotations?.['org.opencontainers.image.ref.name'];
    const full = d.annotations?.['io.containerd.image.name'];
    const names = full ? [familiarOrSelf(full)] : ref ? [ref] : [];
    const descriptor: Descriptor = {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      ...(d.platform ? { platform: d.platform } : {}),
    };
    return {
      index: i,
      names,
      descriptor,
      source: () => new ArchiveSource(`oci-archive:${label}${ref ? `:${ref}` : ''}`, descriptor, blobs),
    };
  });
}

function familiarOrSelf(name: string): string {
  try {
    return familiarString(normalizeReference(name));
  } catch {
    return name;
  }
}

function selectImage(
  images: readonly ArchiveImage[],
  selector: string | number | undefined,
  label: string,
): ArchiveImage {
  if (selector === undefined) {
    if (images.length === 1) return images[0]!;
    throw new ArchiveUnsupportedError(
      `${label} holds ${images.length} images; name one (${images.flatMap((i) => i.names).join(', ') || 'by index or ID'})`,
    );
  }
  if (typeof selector === 'number') {
    const img = images[selector];
    if (!img) throw new ArchiveUnsupportedError(`${label} has no image #${selector} (it holds ${images.length})`);
    return img;
  }
  const byName = images.find((i) => i.names.includes(selector));
  if (byName) return byName;
  let normalized: string | undefined;
  try {
    normalized = familiarString(normalizeReference(selector));
  } catch {
    normalized = undefined;
  }
  const byNorm = normalized ? images.find((i) => i.names.includes(normalized)) : undefined;
  if (byNorm) return byNorm;
  const hex = selector.replace(/^sha256:/, '');
  if (/^[a-f0-9]{12,64}$/.test(hex)) {
    const byId = images.filter(
      (i) => (i.id && configHexPrefix(i.id).startsWith(hex)) || configHexPrefix(i.descriptor.digest).startsWith(hex),
    );
    if (byId.length === 1) return byId[0]!;
  }
  throw new ArchiveUnsupportedError(
    `${label} has no image "${selector}"; it holds ${images.map((i) => i.names[0] ?? i.id ?? i.descriptor.digest).join(', ')}`,
  );
}

/**
 * An ImageSource over one image of an archive file or stream (for `lade copy docker-archive:FILE[:NAME] …`), opened
 * on first use; `close()` removes what was spooled.
 */
export function archiveSource(
  input: ArchiveInput,
  selector?: string | number,
  options: OpenArchiveOptions = {},
): ImageSource {
  let opened: Promise<{ archive: Archive; source: ImageSource }> | undefined;
  const open = () => {
    opened ??= openArchive(input, options).then((archive) => {
      try {
        return { archive, source: archive.source(selector) };
      } catch (e) {
        void archive.close();
        throw e;
      }
    });
    return opened;
  };
  const label = typeof input === 'string' ? input : 'stream';
  return {
    name: `archive:${label}${selector !== undefined ? `:${selector}` : ''}`,
    resolve: async (o) => (await open()).source.resolve(o),
    fetchManifest: async (d, o) => (await open()).source.fetchManifest(d, o),
    openBlob: async (d, o) => (await open()).source.openBlob(d, o),
    async close() {
      if (!opened) return;
      const { archive } = await opened.catch(() => ({ archive: undefined }));
      await archive?.close();
    },
  };
}
