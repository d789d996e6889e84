// copy: the one walk behind pull, push, save, load and `lade copy` — from any ImageSource to any ImageSink.
import { setMaxListeners } from 'node:events';
import { type Digest, LadeError, verifyingStream } from '@lade/digest';
import { readBounded } from './bounded-read.js';
import {
  convertConfigMediaType,
  convertLayerMediaType,
  type ImageFormat,
  toDockerManifest,
  toDockerManifestList,
  toOciIndex,
  toOciManifest,
} from './convert.js';
import { ManifestInvalidError, NoMatchingManifestError } from './errors.js';
import { isConfigMediaType, isForeignLayer } from './media-types.js';
import { markOwnedChunks, ownsChunks } from './owned-chunks.js';
import { parseImageConfig, parseManifest } from './parse.js';
import { hostPlatform, normalizePlatform, parsePlatform, selectManifest } from './platform.js';
import type { Descriptor, ImageSink, ImageSource, Platform } from './transport.js';
import type { ImageIndex, ParsedImageIndex, ParsedImageManifest, ParsedManifest } from './types.js';

/** What a blob is to the image: its config or one of its layers. */
export type BlobRole = 'config' | 'layer';

/**
 * Progress of a copy. Per blob, in order: `waiting` (queued), then either `exists` (the sink has it), `mounted`
 * (the sink mounted it from the source's repository), `skipped` (a foreign layer), or `downloading` (repeated, with bytes
 * so far) → `verifying` (all bytes read; digest being checked) → `complete`. Per manifest: `manifest-exists` when the sink
 * already has a child manifest (its blobs are then not walked), `manifest-written` once stored.
 */
export type CopyEvent =
  | { readonly type: 'waiting'; readonly descriptor: Descriptor; readonly role: BlobRole }
  | {
      readonly type: 'downloading';
      readonly descriptor: Descriptor;
      readonly role: BlobRole;
      readonly transferred: number;
      readonly total: number;
    }
  | { readonly type: 'verifying'; readonly descriptor: Descriptor; readonly role: BlobRole }
  | { readonly type: 'complete'; readonly descriptor: Descriptor; readonly role: BlobRole }
  | { readonly type: 'exists'; readonly descriptor: Descriptor; readonly role: BlobRole }
  | { readonly type: 'mounted'; readonly descriptor: Descriptor; readonly role: BlobRole }
  | { readonly type: 'skipped'; readonly descriptor: Descriptor; readonly role: BlobRole; readonly reason: 'foreign' }
  | { readonly type: 'manifest-exists'; readonly descriptor: Descriptor }
  | { readonly type: 'manifest-written'; readonly descriptor: Descriptor; readonly root: boolean };

/** Options of {@link copy}. */
export interface CopyOptions {
  /** Which image of an index to copy (a platform or a specifier such as `linux/arm64`); default {@link hostPlatform}. */
  readonly platform?: Platform | string;
  /** Copy every image of an index and the index itself (ignores `platform`). */
  readonly all?: boolean;
  /** Only an exact platform match counts (no `386` for `amd64`). */
  readonly strictPlatform?: boolean;
  /** Blobs in flight at once (default 3, as docker's max-concurrent-downloads). */
  readonly concurrency?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: CopyEvent) => void;
  /** Convert manifests (and config/layer media types) to this format; digests of converted manifests change. */
  readonly format?: ImageFormat;
  /** Foreign / non-distributable layers: `skip` (default, as skopeo does: the sink gets the manifest, not the blob) or `copy`. */
  readonly foreignLayers?: 'skip' | 'copy';
}

/** What {@link copy} did. */
export interface CopyResult {
  /** The root as written to the sink (the platform's manifest when an index was narrowed to one image). */
  readonly root: Descriptor;
  /** Every manifest written, children first, root last. */
  readonly manifests: readonly Descriptor[];
  /** Blobs transferred (not counting those the sink had, mounted or skipped). */
  readonly blobs: number;
  /** Bytes transferred. */
  readonly bytes: number;
  /** Blobs not transferred: the sink had them, mounted them, or they were foreign. */
  readonly skippedBlobs: number;
}

interface ManifestNode {
  readonly kind: 'manifest';
  readonly source: Descriptor;
  readonly parsed: ParsedImageManifest;
  readonly out: { readonly bytes: Uint8Array; readonly descriptor: Descriptor };
  readonly exists: boolean;
}

interface IndexNode {
  readonly kind: 'index';
  readonly source: Descriptor;
  readonly parsed: ParsedImageIndex;
  readonly children: readonly Node[];
  readonly out: { readonly bytes: Uint8Array; readonly descriptor: Descriptor };
  readonly exists: boolean;
}

type Node = ManifestNode | IndexNode;

/** A counting semaphore whose waiters leave when the copy aborts. */
function limiter(concurrency: number, signal: AbortSignal): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    active--;
    queue.shift()?.();
  };
  return (task) =>
    new Promise((resolve, reject) => {
      const start = () => {
        if (signal.aborted) {
          next();
          return reject(signal.reason);
        }
        task().then(resolve, reject).finally(next);
      };
      if (active < concurrency) {
        active++;
        start();
      } else {
        queue.push(() => {
          active++;
          start();
        });
      }
    });
}

/** Replaces the identity fields of a descriptor (dropping embedded `data`, which belonged to the old bytes). */
function retarget(d: Descriptor, to: Descriptor): Descriptor {
  const { data: _data, ...rest } = d;
  return { ...rest, mediaType: to.mediaType, digest: to.digest, size: to.size };
}

/**
 * Copies an image from a source to a sink: resolves the source's root; for an index, copies the image for `platform`
 * (its manifest becomes the root) or, with `all`, every image and then the index. For each manifest the config and
 * layers move concurrently (at most `concurrency` at once), skipping blobs the sink has, mounting where the sink can,
 * and verifying every byte against its descriptor on the way. Manifests are written children first and the root last
 * with `{ root: true }`, then `sink.commit()` runs. Without `format` every digest is preserved byte for byte.
 *
 * On an error or abort the other transfers are cancelled and awaited, then the error is rethrown; `copy` never closes
 * the source or the sink (their creator does).
 *
 * @example
 * const store = new MemoryImageStore();
 * const { root } = await copy(registrySource, store.sink('app:1'), { platform: 'linux/arm64', onProgress: console.log });
 */
export async function copy(source: ImageSource, sink: ImageSink, options: CopyOptions = {}): Promise<CopyResult> {
  const controller = new AbortController();
  const outer = options.signal;
  const onOuterAbort = () => controller.abort(outer?.reason);
  if (outer) {
    outer.throwIfAborted();
    outer.addEventListener('abort', onOuterAbort, { once: true });
  }
  const signal = controller.signal;
  // Every blob in flight listens on this signal several times (pipes, reads, the sink): not a leak.
  setMaxListeners(0, signal);
  const emit = (event: CopyEvent) => {
    try {
      options.onProgress?.(event);
    } catch {
      // A failing progress renderer must not break the copy.
    }
  };
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 3));
  const platform: Platform =
    options.platform === undefined
      ? hostPlatform()
      : typeof options.platform === 'string'
        ? parsePlatform(options.platform)
        : normalizePlatform(options.platform);
  const inFlight: Promise<unknown>[] = [];
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.push(p.catch(() => {}));
    return p;
  };

  // Manifest fetches of a wide index are bounded like blobs (they never nest, so a separate limiter cannot deadlock).
  const runFetch = limiter(concurrency, signal);
  const fetchParsed = (d: Descriptor): Promise<ParsedManifest> =>
    runFetch(async () => {
      const bytes = await source.fetchManifest(d, { signal });
      return parseManifest(bytes, {
        contentType: d.mediaType,
        preferBody: true,
        expected: { digest: d.digest, size: d.size },
      });
    });

  // Entries without a platform (OCI layouts often omit it) are identified by their config, as containerd does.
  const selectChild = async (index: ImageIndex): Promise<Descriptor> => {
    try {
      return selectManifest(index, platform, { strict: options.strictPlatform ?? false });
    } catch (e) {
      if (!(e instanceof NoMatchingManifestError)) throw e;
      const unlabelled = index.manifests.filter((d) => d.platform === undefined);
      if (unlabelled.length === 0) throw e;
      const labelled: Descriptor[] = [];
      for (const d of unlabelled) {
        const child = await fetchParsed(d);
        if (child.kind === 'index') {
          // A nested index without a platform: look inside it.
          const inner = await selectChild(child.index).catch((x: unknown) => {
            if (x instanceof NoMatchingManifestError) return undefined;
            throw x;
          });
          if (inner) return inner;
          continue;
        }
        const cfg = child.manifest.config;
        if (!isConfigMediaType(cfg.mediaType)) continue;
        const stream = await source.openBlob(cfg, { signal });
        const config = parseImageConfig(
          await readBounded(
            stream.pipeThrough(verifyingStream({ digest: cfg.digest, size: cfg.size })),
            cfg.size,
            () => new ManifestInvalidError(`config ${cfg.digest} is larger than its descriptor's ${cfg.size} bytes`),
          ),
        );
        const { architecture, os, variant } = config.config;
        labelled.push({ ...d, platform: { architecture, os, ...(variant ? { variant } : {}) } });
      }
      try {
        return selectManifest({ manifests: labelled }, platform, { strict: options.strictPlatform ?? false });
      } catch (e2) {
        if (e2 instanceof NoMatchingManifestError) throw e;
        throw e2;
      }
    }
  };

  const plan = async (d: Descriptor, root: boolean): Promise<Node> => {
    const parsed = await fetchParsed(d);
    if (parsed.kind === 'index') {
      if (!options.all) return plan(await selectChild(parsed.index), root);
      const children = await Promise.all(parsed.index.manifests.map((c) => plan(c, false)));
      const map = new Map<string, Descriptor>();
      for (const c of children)
        if (c.out.descriptor.digest !== c.source.digest || c.out.descriptor.mediaType !== c.source.mediaType)
          map.set(c.source.digest, c.out.descriptor);
      const converted =
        options.format === 'oci'
          ? toOciIndex(parsed, map)
          : options.format === 'v2s2'
            ? toDockerManifestList(parsed, map)
            : undefined;
      const out = converted?.changed
        ? { bytes: converted.bytes, descriptor: retarget(d, converted.descriptor) }
        : { bytes: parsed.bytes, descriptor: { ...d, mediaType: parsed.mediaType } };
      const exists = !root && (await sink.hasManifest?.(out.descriptor, { signal })) === true;
      return { kind: 'index', source: d, parsed, children, out, exists };
    }
    const converted =
      options.format === 'oci'
        ? toOciManifest(parsed)
        : options.format === 'v2s2'
          ? toDockerManifest(parsed)
          : undefined;
    const out = converted?.changed
      ? { bytes: converted.bytes, descriptor: retarget(d, converted.descriptor) }
      : { bytes: parsed.bytes, descriptor: { ...d, mediaType: parsed.mediaType } };
    const exists = !root && (await sink.hasManifest?.(out.descriptor, { signal })) === true;
    return { kind: 'manifest', source: d, parsed, out, exists };
  };

  let blobs = 0;
  let bytes = 0;
  let skippedBlobs = 0;
  const blobTasks = new Map<Digest, Promise<void>>();
  const run = limiter(concurrency, signal);

  const copyBlob = (from: Descriptor, to: Descriptor, role: BlobRole): Promise<void> => {
    const existing = blobTasks.get(from.digest);
    if (existing) return existing;
    let task: Promise<void>;
    if (role === 'layer' && isForeignLayer(from) && (options.foreignLayers ?? 'skip') === 'skip') {
      skippedBlobs++;
      emit({ type: 'skipped', descriptor: to, role, reason: 'foreign' });
      task = Promise.resolve();
    } else {
      emit({ type: 'waiting', descriptor: to, role });
      task = track(
        run(async () => {
          signal.throwIfAborted();
          if (await sink.hasBlob(to, { signal })) {
            skippedBlobs++;
            emit({ type: 'exists', descriptor: to, role });
            return;
          }
          if (sink.mountBlob && (await sink.mountBlob(to, source, { signal }))) {
            skippedBlobs++;
            emit({ type: 'mounted', descriptor: to, role });
            return;
          }
          const content = await source.openBlob(from, { signal });
          let transferred = 0;
          const counter = new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, c) {
              transferred += chunk.byteLength;
              c.enqueue(chunk);
              emit({ type: 'downloading', descriptor: to, role, transferred, total: from.size });
            },
            flush() {
              emit({ type: 'verifying', descriptor: to, role });
            },
          });
          const counted = content.pipeThrough(counter, { signal });
          // The counter keeps no chunk: a reader of `counted` owns them as a reader of `content` would.
          if (ownsChunks(content)) markOwnedChunks(counted);
          if (sink.verifiesBlobs) {
            // The sink hashes while it writes and refuses a mismatch itself: hashing here too would double the work.
            await sink.writeBlob(to, counted, { signal });
            if (transferred !== from.size) {
              throw new LadeError(
                'BLOB_UPLOAD_INVALID',
                `${sink.name} finished writing ${role} ${from.digest} after ${transferred} of ${from.size} bytes; the sink is broken`,
              );
            }
            blobs++;
            bytes += transferred;
            emit({ type: 'complete', descriptor: to, role });
            return;
          }
          const verifier = verifyingStream({ digest: from.digest, size: from.size, name: `${role} ${from.digest}` });
          let verified = false;
          verifier.result.then(
            () => {
              verified = true;
            },
            () => {},
          );
          await sink.writeBlob(to, counted.pipeThrough(verifier, { signal }), { signal });
          // A sink that returns before reading to the end has not let the digest be checked: never count that as copied.
          if (!verified) {
            throw new LadeError(
              'BLOB_UPLOAD_INVALID',
              `${sink.name} finished writing ${role} ${from.digest} before reading all of it; the sink is broken`,
            );
          }
          blobs++;
          bytes += transferred;
          emit({ type: 'complete', descriptor: to, role });
        }),
      );
    }
    blobTasks.set(from.digest, task);
    return task;
  };

  const copyBlobsOf = (node: Node): Promise<unknown>[] => {
    if (node.exists) return [];
    if (node.kind === 'index') return node.children.flatMap(copyBlobsOf);
    const m = node.parsed.manifest;
    const fmt = options.format;
    const cfgTo = fmt ? { ...m.config, mediaType: convertConfigMediaType(m.config.mediaType, fmt) } : m.config;
    const tasks: Promise<unknown>[] = [copyBlob(m.config, cfgTo, 'config')];
    for (const l of m.layers) {
      const lTo = fmt ? { ...l, mediaType: convertLayerMediaType(l.mediaType, fmt) } : l;
      tasks.push(copyBlob(l, lTo, 'layer'));
    }
    return tasks;
  };

  const written: Descriptor[] = [];
  const writeManifests = async (node: Node, root: boolean): Promise<void> => {
    if (node.exists) {
      emit({ type: 'manifest-exists', descriptor: node.out.descriptor });
      return;
    }
    if (node.kind === 'index') for (const c of node.children) await writeManifests(c, false);
    signal.throwIfAborted();
    await sink.writeManifest(node.out.descriptor, node.out.bytes, { signal, root });
    written.push(node.out.descriptor);
    emit({ type: 'manifest-written', descriptor: node.out.descriptor, root });
  };

  try {
    const resolved = await source.resolve({ signal });
    // The source's own naming (e.g. an OCI layout's ref.name annotation) must not leak into the sink.
    const rootDesc: Descriptor = {
      mediaType: resolved.mediaType,
      digest: resolved.digest,
      size: resolved.size,
      ...(resolved.platform ? { platform: resolved.platform } : {}),
      ...(resolved.artifactType ? { artifactType: resolved.artifactType } : {}),
    };
    const tree = await plan(rootDesc, true);
    await Promise.all(copyBlobsOf(tree));
    await writeManifests(tree, true);
    await sink.commit?.({ signal });
    return { root: tree.out.descriptor, manifests: written, blobs, bytes, skippedBlobs };
  } catch (error) {
    controller.abort(error);
    await Promise.allSettled(inFlight);
    if (outer?.aborted) throw outer.reason;
    throw error;
  } finally {
    outer?.removeEventListener('abort', onOuterAbort);
  }
}
