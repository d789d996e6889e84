import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, isDigest, verifyBytes } from '@lade/digest';
import {
  type Descriptor,
  MAX_MANIFEST_SIZE,
  ManifestInvalidError,
  MediaType,
  type ParsedImageConfig,
  type ParsedManifest,
  parseImageConfig,
  parseManifest,
  readBounded,
} from '@lade/manifest';
import { LayoutInvalidError } from './errors.js';
import { FsBlobStore, type FsBlobStoreOptions, syncDir } from './fs-blob-store.js';
import { type LockOptions, withLock } from './lock.js';

/** The annotation OCI layouts name their entries with (the tag in `oci:DIR:TAG`). */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

/** The `oci-layout` file's version. */
export const OCI_LAYOUT_VERSION = '1.0.0';

/** The `index.json` of an OCI image layout; unknown fields are kept as they are. */
export interface OciIndexFile {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly manifests: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly [key: string]: unknown;
}

/** What an {@link OciLayout.updateIndex} callback returns. */
export interface IndexUpdate<T> {
  /** The new index, or absent to keep the current one. */
  readonly index?: OciIndexFile;
  readonly result: T;
  /** Runs after the new index is written, under the same lock. */
  readonly afterWrite?: () => Promise<void>;
}

/** Options of {@link OciLayout.open}. */
export interface OpenLayoutOptions extends FsBlobStoreOptions {
  /** Create the layout when the directory has none (default false: a missing layout is LAYOUT_INVALID). */
  readonly create?: boolean;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

function checkDescriptor(value: unknown, where: string): Descriptor {
  const d = value as Partial<Descriptor> | null;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.mediaType !== 'string' ||
    typeof d.digest !== 'string' ||
    !isDigest(d.digest) ||
    typeof d.size !== 'number' ||
    !Number.isSafeInteger(d.size) ||
    d.size < 0
  ) {
    throw new LayoutInvalidError(
      `${where}: an entry of index.json is not a valid descriptor (mediaType, digest, size); repair or remove it`,
    );
  }
  if (d.annotations !== undefined && (typeof d.annotations !== 'object' || d.annotations === null)) {
    throw new LayoutInvalidError(`${where}: an entry of index.json has invalid annotations`);
  }
  return d as Descriptor;
}

/**
 * An OCI image layout directory (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`), as skopeo's `oci:` transport
 * and umoci read and write it. index.json is replaced atomically (temp, fsync, rename) under a writer lock.
 */
export class OciLayout {
  readonly dir: string;
  readonly blobs: FsBlobStore;

  private constructor(dir: string, blobs: FsBlobStore) {
    this.dir = dir;
    this.blobs = blobs;
  }

  /** Opens (and with `create`, initialises) a layout. */
  static async open(dir: string, options: OpenLayoutOptions = {}): Promise<OciLayout> {
    const layout = new OciLayout(dir, new FsBlobStore(dir, options));
    const marker = join(dir, 'oci-layout');
    let text: string | undefined;
    try {
      text = await readFile(marker, 'utf8');
    } catch (err) {
      if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTDIR')) throw err;
    }
    if (text === undefined) {
      if (!options.create)
        throw new LayoutInvalidError(
          `${dir} is not an OCI image layout (no oci-layout file); create it first or check the path`,
        );
      await layout.#init();
      return layout;
    }
    let version: unknown;
    try {
      version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (cause) {
      throw new LayoutInvalidError(`${marker} is not JSON; repair it or use another directory`, { cause });
    }
    if (typeof version !== 'string' || !version.startsWith('1.')) {
      throw new LayoutInvalidError(
        `${marker} declares image layout version ${JSON.stringify(version)}; lade reads 1.x`,
      );
    }
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    return layout;
  }

  async #init(): Promise<void> {
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    await withLock(this.lockPath, async () => {
      const indexExists = await stat(this.indexPath).then(
        () => true,
        () => false,
      );
      if (!indexExists) await this.#writeIndexFile({ schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] });
      // oci-layout last: its presence marks a complete layout.
      await writeAtomic(join(this.dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: OCI_LAYOUT_VERSION })}`);
    });
  }

  get indexPath(): string {
    return join(this.dir, 'index.json');
  }

  /** The writer lock of this layout (a file beside index.json). */
  get lockPath(): string {
    return join(this.dir, 'index.json.lock');
  }

  /** Reads index.json (validated: schemaVersion 2, descriptors). A missing index.json reads as empty. */
  async readIndex(): Promise<OciIndexFile> {
    let text: string;
    try {
      text = await readFile(this.indexPath, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: [] };
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new LayoutInvalidError(`${this.indexPath} is not JSON; restore it from a backup or rebuild the layout`, {
        cause,
      });
    }
    const idx = json as Partial<OciIndexFile> | null;
    if (typeof idx !== 'object' || idx === null || idx.schemaVersion !== 2 || !Array.isArray(idx.manifests)) {
      throw new LayoutInvalidError(`${this.indexPath} is not an OCI index (schemaVersion 2 with manifests); repair it`);
    }
    const manifests = idx.manifests.map((m) => checkDescriptor(m, this.indexPath));
    return { ...(idx as OciIndexFile), manifests };
  }

  /**
   * Read-modify-write of index.json under the writer lock. `update` gets the current index and returns the new one
   * (or no `index` to leave it unchanged) and a result. `afterWrite`, when returned, runs once the new index.json is
   * in place, still under the lock: deleting blobs only there means a crash can never leave index.json naming
   * content that is gone.
   */
  async updateIndex<T>(
    update: (index: OciIndexFile) => Promise<IndexUpdate<T>> | IndexUpdate<T>,
    options: LockOptions = {},
  ): Promise<T> {
    return withLock(
      this.lockPath,
      async () => {
        const current = await this.readIndex();
        const { index, result, afterWrite } = await update(current);
        if (index !== undefined) await this.#writeIndexFile(index);
        if (afterWrite) await afterWrite();
        return result;
      },
      options,
    );
  }

  async #writeIndexFile(index: OciIndexFile): Promise<void> {
    await writeAtomic(this.indexPath, JSON.stringify(index));
  }

  /** The bytes of a manifest or config blob (≤ 4 MiB), verified against the descriptor. */
  async readSmallBlob(descriptor: Pick<Descriptor, 'digest' | 'size'>, what = 'manifest'): Promise<Uint8Array> {
    if (descriptor.size > MAX_MANIFEST_SIZE) {
      throw new ManifestInvalidError(`${what} ${descriptor.digest} is ${descriptor.size} bytes, over the 4 MiB limit`);
    }
    const stream = await this.blobs.read(descriptor.digest);
    const bytes = await readBounded(
      stream,
      MAX_MANIFEST_SIZE,
      () => new ManifestInvalidError(`${what} ${descriptor.digest} is over the 4 MiB limit`),
    );
    verifyBytes(bytes, { digest: descriptor.digest, size: descriptor.size, name: `${what} ${descriptor.digest}` });
    return bytes;
  }

  /** A parsed manifest or index from the layout, verified against its descriptor. */
  async readManifest(descriptor: Pick<Descriptor, 'digest' | 'size' | 'mediaType'>): Promise<ParsedManifest> {
    const bytes = await this.readSmallBlob(descriptor, 'manifest');
    return parseManifest(bytes, {
      contentType: descriptor.mediaType,
      preferBody: true,
      expected: { digest: descriptor.digest, size: descriptor.size },
    });
  }

  /** A parsed image config from the layout, verified against its descriptor. */
  async readConfig(descriptor: Pick<Descriptor, 'digest' | 'size'>): Promise<ParsedImageConfig> {
    const bytes = await this.readSmallBlob(descriptor, 'image config');
    return parseImageConfig(bytes, { expected: { digest: descriptor.digest, size: descriptor.size } });
  }

  /** Writes a manifest's exact bytes as a blob (verified against the digest when given). */
  async writeManifestBytes(bytes: Uint8Array, digest: Digest): Promise<void> {
    await this.blobs.ingest(
      { digest, size: bytes.byteLength },
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(bytes);
          c.close();
        },
      }),
    );
  }
}

/** Replaces a file atomically: write a temp file beside it, fsync, rename, fsync the directory. */
export async function writeAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, content, { flush: true });
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  await syncDir(join(path, '..'));
}
