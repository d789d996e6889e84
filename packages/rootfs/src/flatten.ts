import { createTarWriter, type TarEntry, type TarEntryInit, type TarHeader } from '@lade/archive';
import { createHasher, type Digest } from '@lade/digest';
import type { ImageSource } from '@lade/manifest';
import type { RootfsWarning } from './apply.js';
import { LayerInvalidError } from './errors.js';
import { type LoadedImage, type LoadImageOptions, loadImage } from './image.js';
import { openLayer } from './layer-stream.js';
import { cleanEntryPath } from './paths.js';
import type { TreeEntry, TreeEntryType } from './record.js';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Options of {@link flattenImage}. */
export interface FlattenOptions extends LoadImageOptions {
  readonly onWarning?: (warning: RootfsWarning) => void;
  /** An image already loaded with {@link loadImage} (skips resolving again). */
  readonly image?: LoadedImage;
  /** {@link treeFromImage} only: hash each file's content (default true; false lists paths and metadata only). */
  readonly hash?: boolean;
}

interface Visible {
  readonly layer: number;
  readonly dir: boolean;
}

/** Tracks what upper layers hide while an image's layers are read top to bottom. */
class Shadows {
  readonly emitted = new Map<string, Visible>();
  readonly whiteouts = new Set<string>();
  readonly opaques = new Set<string>();
  readonly pendingWhiteouts: string[] = [];
  readonly pendingOpaques: string[] = [];

  /** True when `path` of layer `layer` shows in the final tree. */
  visible(path: string, layer: number): boolean {
    const seen = this.emitted.get(path);
    if (seen !== undefined && seen.layer !== layer) return false;
    if (this.whiteouts.has(path)) return false;
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
      const a = path.slice(0, i);
      if (this.whiteouts.has(a) || this.opaques.has(a)) return false;
      const e = this.emitted.get(a);
      if (e !== undefined && !e.dir && e.layer !== layer) return false;
    }
    return true;
  }

  /** Whiteouts of a layer hide only the layers below it. */
  endLayer(): void {
    for (const w of this.pendingWhiteouts.splice(0)) this.whiteouts.add(w);
    for (const o of this.pendingOpaques.splice(0)) this.opaques.add(o);
  }
}

function initOf(h: TarHeader, name: string, linkname?: string): TarEntryInit {
  const type = h.type as Exclude<TarHeader['type'], 'other'>;
  return {
    name: type === 'directory' ? `${name}/` : name,
    type,
    size: type === 'file' ? h.size : 0,
    mode: h.mode & 0o7777,
    uid: h.uid,
    gid: h.gid,
    uname: h.uname,
    gname: h.gname,
    mtime: h.mtime,
    ...(linkname !== undefined ? { linkname } : h.type === 'symlink' ? { linkname: h.linkname } : {}),
    ...(type === 'char-device' || type === 'block-device' ? { devmajor: h.devmajor, devminor: h.devminor } : {}),
    ...(h.xattrs && Object.keys(h.xattrs).length > 0 ? { xattrs: h.xattrs } : {}),
  };
}

/** One entry of a layer, its path already checked to stay inside the root. */
interface LayerEntry {
  readonly entry: TarEntry;
  /** The cleaned path components; `base` is the last, `dir` the rest joined with `/`. */
  readonly parts: readonly string[];
  readonly base: string;
  readonly dir: string;
}

/**
 * Streams layer `index` of `image` (verified against its diff_id, and its blob digest with `verifyBlobs`) and calls
 * `visit` for each entry, refusing entries whose paths leave the root; the layer is finished on success and cancelled
 * on any error, which is rethrown.
 */
async function forEachEntry(
  source: ImageSource,
  image: LoadedImage,
  index: number,
  options: FlattenOptions,
  visit: (e: LayerEntry) => Promise<void>,
): Promise<void> {
  const layer = image.layers[index]!;
  const opened = await openLayer(await source.openBlob(layer, options.signal ? { signal: options.signal } : {}), {
    ...(options.verifyBlobs ? { expectedBlob: { digest: layer.digest, size: layer.size } } : {}),
    expectedDiffId: image.config.config.rootfs.diff_ids[index] as Digest,
    name: `layer ${layer.digest}`,
  });
  try {
    for (;;) {
      const entry = await opened.tar.next();
      if (entry === null) break;
      const parts = cleanEntryPath(entry.header.name);
      if (parts === undefined)
        throw new LayerInvalidError(
          `layer entry "${entry.header.name}" points outside the root filesystem; the layer is corrupt or hostile`,
        );
      const base = parts[parts.length - 1];
      if (base === undefined || entry.header.type === 'other') continue;
      await visit({ entry, parts, base, dir: parts.slice(0, -1).join('/') });
    }
    await opened.finish();
  } catch (e) {
    await opened.cancel(e);
    throw e;
  }
}

/**
 * Merges an image's layers into one tar of its final file system (what `lade export` writes): layers are read
 * top to bottom and an entry is kept unless an upper layer replaced it, whited it out or made a parent opaque.
 * Nothing is unpacked; bodies stream from the layer blobs (each verified against its digest and diff_id).
 * Hardlinks come last, after every file they can point at.
 * @example
 * const tar = flattenImage(store.source('alpine:3.19'));
 */
export function flattenImage(source: ImageSource, options: FlattenOptions = {}): ReadableStream<Uint8Array> {
  const writer = createTarWriter({ format: 'pax' });
  const warn = options.onWarning ?? (() => {});
  const run = async () => {
    const image = options.image ?? (await loadImage(source, options));
    const shadows = new Shadows();
    const hardlinks: { init: TarEntryInit; target: string }[] = [];
    for (let i = image.layers.length - 1; i >= 0; i--) {
      await forEachEntry(source, image, i, options, async ({ entry, parts, base, dir }) => {
        const h = entry.header;
        if (base.startsWith(WHITEOUT)) {
          if (base === OPAQUE) shadows.pendingOpaques.push(dir);
          else if (!base.startsWith('.wh..wh.'))
            shadows.pendingWhiteouts.push(dir === '' ? base.slice(4) : `${dir}/${base.slice(4)}`);
          return;
        }
        const path = parts.join('/');
        if (!shadows.visible(path, i)) return;
        shadows.emitted.set(path, { layer: i, dir: h.type === 'directory' });
        if (h.type === 'hardlink') {
          const target = cleanEntryPath(h.linkname);
          if (target === undefined || target.length === 0)
            throw new LayerInvalidError(
              `layer entry "${h.name}" is a hardlink to "${h.linkname}", outside the root filesystem`,
            );
          hardlinks.push({ init: initOf(h, path, target.join('/')), target: target.join('/') });
          return;
        }
        await writer.add({ header: initOf(h, path), ...(h.type === 'file' ? { body: entry.body } : {}) });
      });
      shadows.endLayer();
    }
    // Parents no layer declared (a layer may hold `a/b/c` alone): as a real file system has them, 0755 root.
    const missing = new Set<string>();
    for (const path of shadows.emitted.keys()) {
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
        const parent = path.slice(0, i);
        if (!shadows.emitted.has(parent)) missing.add(parent);
      }
    }
    for (const dir of [...missing].sort())
      await writer.add({ header: { name: `${dir}/`, type: 'directory', mode: 0o755 } });
    for (const l of hardlinks) {
      if (!shadows.emitted.has(l.target)) {
        warn({
          code: 'ENTRY_SKIPPED',
          path: l.init.name,
          message: `skipped hardlink "${l.init.name}": its target "${l.target}" is not in the final file system`,
        });
        continue;
      }
      await writer.add({ header: l.init });
    }
    await writer.close();
  };
  run().catch((e) => writer.abort(e));
  return writer.readable;
}

/**
 * The final file system of an image as tree entries (with each file's sha256), without unpacking it:
 * a base for {@link diffDirectory} when a directory has no unpack record. Paths are taken literally.
 */
export async function treeFromImage(source: ImageSource, options: FlattenOptions = {}): Promise<TreeEntry[]> {
  const image = options.image ?? (await loadImage(source, options));
  const tree = new Map<string, TreeEntry>();
  const removeUnder = (path: string, self: boolean) => {
    const prefix = path === '' ? '' : `${path}/`;
    for (const k of [...tree.keys()]) if ((self && k === path) || k.startsWith(prefix)) tree.delete(k);
  };
  for (let i = 0; i < image.layers.length; i++) {
    const written = new Set<string>();
    await forEachEntry(source, image, i, options, async ({ entry, parts, base, dir }) => {
      const h = entry.header;
      if (base === OPAQUE) {
        for (const k of [...tree.keys()])
          if (k.startsWith(dir === '' ? '' : `${dir}/`) && !written.has(k)) tree.delete(k);
        return;
      }
      if (base.startsWith(WHITEOUT)) {
        if (!base.startsWith('.wh..wh.')) removeUnder(dir === '' ? base.slice(4) : `${dir}/${base.slice(4)}`, true);
        return;
      }
      const path = parts.join('/');
      const existing = tree.get(path);
      if (existing && (existing.type !== 'directory' || h.type !== 'directory')) removeUnder(path, true);
      written.add(path);
      if (h.type === 'hardlink') {
        const t = cleanEntryPath(h.linkname)?.join('/');
        const target = t === undefined ? undefined : tree.get(t);
        if (target) tree.set(path, { ...target, path });
        return;
      }
      let sha256: Digest | undefined;
      if (h.type === 'file' && options.hash !== false) {
        const hasher = createHasher('sha256');
        const reader = entry.body.getReader();
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          hasher.update(r.value);
        }
        sha256 = hasher.digest();
      }
      tree.set(path, {
        path,
        type: h.type as TreeEntryType,
        mode: h.mode & 0o7777,
        uid: h.uid,
        gid: h.gid,
        size: h.type === 'file' ? h.size : 0,
        mtime: (BigInt(Math.floor(h.mtime)) * 1_000_000_000n).toString(),
        ...(h.type === 'symlink' ? { link: h.linkname } : {}),
        ...(sha256 ? { sha256 } : {}),
      });
    });
  }
  return [...tree.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
