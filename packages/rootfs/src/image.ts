import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Digest, verifyBytes } from '@lade/digest';
import {
  type Descriptor,
  hostPlatform,
  type ImageSource,
  MAX_CONFIG_SIZE,
  type ParsedImageConfig,
  type ParsedImageManifest,
  type Platform,
  parseImageConfig,
  parseManifest,
  readBounded,
  selectManifest,
} from '@lade/manifest';
import { type ApplyLayerResult, LayerApplier, type RootfsWarning } from './apply.js';
import { LayerInvalidError, RootfsExistsError } from './errors.js';
import { scanTree, type UnpackRecord, writeUnpackRecord } from './record.js';

/** An image manifest with its config, as resolved from a source for one platform. */
export interface LoadedImage {
  readonly manifest: ParsedImageManifest;
  readonly config: ParsedImageConfig;
  /** The manifest's layers, bottom first. */
  readonly layers: readonly Descriptor[];
}

/** Options of {@link loadImage}. */
export interface LoadImageOptions {
  /**
   * Also hash each compressed layer blob against its manifest digest (a second hash pass). Default false: the diff_id
   * of every layer is always verified, and it is what the verified config commits the content to (containerd's
   * applier checks the same); blobs were verified when they entered the store.
   */
  readonly verifyBlobs?: boolean;
  /** Which image of an index (default: this machine's platform). */
  readonly platform?: Platform;
  readonly signal?: AbortSignal;
}

/**
 * Resolves `source` to one image manifest (choosing `platform` from an index) and reads its config, both verified.
 * @example
 * const { config, layers } = await loadImage(store.source('alpine:3.19'));
 */
export async function loadImage(source: ImageSource, options: LoadImageOptions = {}): Promise<LoadedImage> {
  const t = options.signal ? { signal: options.signal } : {};
  let desc = await source.resolve(t);
  let parsed = parseManifest(await source.fetchManifest(desc, t), desc.mediaType);
  if (parsed.kind === 'index') {
    desc = selectManifest(parsed.index, options.platform ?? hostPlatform());
    parsed = parseManifest(await source.fetchManifest(desc, t), desc.mediaType);
    if (parsed.kind === 'index')
      throw new LayerInvalidError(
        `${source.name}: the index for the platform points at another index; lade unpacks one level of index`,
      );
  }
  const manifest = parsed;
  const cdesc = manifest.manifest.config;
  const bytes = await readBounded(
    await source.openBlob(cdesc, t),
    MAX_CONFIG_SIZE,
    () => new LayerInvalidError(`image config ${cdesc.digest} is larger than ${MAX_CONFIG_SIZE} bytes; refusing it`),
  );
  verifyBytes(bytes, { digest: cdesc.digest, size: cdesc.size });
  const config = parseImageConfig(bytes);
  const layers = manifest.manifest.layers;
  if (config.config.rootfs.diff_ids.length !== layers.length) {
    throw new LayerInvalidError(
      `${source.name}: the manifest lists ${layers.length} layers but the config ${config.digest} has ${config.config.rootfs.diff_ids.length} diff_ids; the image is corrupt`,
    );
  }
  return { manifest, config, layers };
}

/** Options of {@link unpackImage}. */
export interface UnpackImageOptions extends LoadImageOptions {
  /** Keep files owned by the current user and skip device nodes (for non-root users), like `umoci unpack --rootless`. */
  readonly rootless?: boolean;
  readonly onWarning?: (warning: RootfsWarning) => void;
  /** Called after each layer is applied. */
  readonly onLayer?: (layer: Descriptor, result: ApplyLayerResult, index: number) => void;
  /** Where to write the unpack record (`lade-unpack.json`); default: none. Must lie outside `dir`. */
  readonly recordPath?: string;
  /** Scan the unpacked tree into `result.record` even without `recordPath` (default: only with it). */
  readonly record?: boolean;
  /** Also record each regular file's sha256 (slower; identity by inode is recorded anyway). */
  readonly hashContent?: boolean;
  /** The name to record for the image (`alpine:3.19`). */
  readonly imageName?: string;
}

/** What {@link unpackImage} produced. */
export interface UnpackImageResult {
  readonly image: LoadedImage;
  readonly layers: readonly ApplyLayerResult[];
  /** The tree as unpacked, when `recordPath` or `record` was given. */
  readonly record?: UnpackRecord;
}

async function isEmptyDir(path: string): Promise<boolean | undefined> {
  try {
    return (await readdir(path)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Unpacks an image's root filesystem into `dir` (which must not exist or be empty): each layer is applied in order,
 * with its blob digest and diff_id verified in the same pass. The work happens in a temporary sibling of `dir`
 * that is renamed into place at the end, so a failed unpack (corrupt or hostile layer, digest mismatch) leaves
 * nothing behind and `dir` as it was.
 *
 * @throws RootfsExistsError (`ROOTFS_EXISTS`) when `dir` holds anything.
 * @example
 * await unpackImage(store.source('alpine:3.19'), './bundle/rootfs', { recordPath: './bundle/lade-unpack.json' });
 */
export async function unpackImage(
  source: ImageSource,
  dir: string,
  options: UnpackImageOptions = {},
): Promise<UnpackImageResult> {
  const target = resolve(dir);
  const empty = await isEmptyDir(target);
  if (empty === false) throw new RootfsExistsError(`${target} is not empty; unpack into a new or empty directory`);
  const image = await loadImage(source, options);
  await mkdir(dirname(target), { recursive: true });
  const tmp = join(dirname(target), `.${basename(target)}.lade-tmp-${process.pid}-${Date.now().toString(36)}`);
  await mkdir(tmp, { mode: 0o755 });
  const results: ApplyLayerResult[] = [];
  try {
    const applier = new LayerApplier(tmp, {
      fresh: true,
      ...(options.rootless !== undefined ? { rootless: options.rootless } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    const diffIds = image.config.config.rootfs.diff_ids;
    for (const [i, layer] of image.layers.entries()) {
      const stream = await source.openBlob(layer, options.signal ? { signal: options.signal } : {});
      const result = await applier.apply(stream, {
        ...(options.verifyBlobs ? { expectedBlob: { digest: layer.digest, size: layer.size } } : {}),
        expectedDiffId: diffIds[i] as Digest,
        name: `layer ${layer.digest}`,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      results.push(result);
      options.onLayer?.(layer, result, i);
    }
    applier.finish();
    // rename(2) replaces an empty directory atomically, so `dir` is either as it was or complete.
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  if (options.recordPath === undefined && options.record !== true) return { image, layers: results };
  const record: UnpackRecord = {
    version: 1,
    image: {
      ...(options.imageName !== undefined ? { name: options.imageName } : {}),
      manifest: image.manifest.digest,
      config: image.config.digest,
      diffIds: image.config.config.rootfs.diff_ids,
      platform: {
        architecture: image.config.config.architecture,
        os: image.config.config.os,
        ...(image.config.config.variant ? { variant: image.config.config.variant } : {}),
      },
    },
    rootless: options.rootless === true,
    entries: scanTree(target, { hash: options.hashContent === true }),
  };
  if (options.recordPath !== undefined) await writeUnpackRecord(options.recordPath, record);
  return { image, layers: results, record };
}
