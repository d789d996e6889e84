/**
 * The file system of a build stage — its base image's layers plus the layers this build wrote so far — read without
 * unpacking anything (no root needed): metadata from the base's tree and the entries of each new layer, contents
 * from the flattened layers.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { readTar, type TarEntryInit, type TarWriteEntry } from '@lade/archive';
import type { Digest } from '@lade/digest';
import {
  buildConfig,
  buildManifest,
  type Descriptor,
  type ImageSource,
  type ParsedImageManifest,
  parseImageConfig,
  parseManifest,
} from '@lade/manifest';
import { cleanEntryPath, flattenImage, type LoadedImage, treeFromImage } from '@lade/rootfs';
import type { Spool } from './spool.js';

/** A layer blob written aside (compressed), with its digests. */
export interface LayerBlob {
  readonly path: string;
  readonly descriptor: Descriptor;
  readonly diffId: Digest;
}

/** What the tree knows of one path. */
export interface FsNode {
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly link?: string;
}

/** An entry read out of a stage: a tar header to write again and, for files, the content (in memory or spooled). */
export interface StageEntry {
  readonly header: TarEntryInit;
  readonly body?: Uint8Array;
  /** The spooled file holding the content. */
  readonly file?: string;
}

const MAX_HOPS = 40;

export class StageFs {
  private tree: Map<string, FsNode> | undefined;
  /** File contents read so far, by `<layer count>:<path>` (a new layer makes new keys). */
  private readonly files = new Map<string, Uint8Array | undefined>();

  constructor(
    readonly base: LoadedImage | undefined,
    readonly baseSource: ImageSource | undefined,
    readonly layers: LayerBlob[] = [],
    tree?: Map<string, FsNode>,
  ) {
    this.tree = tree;
  }

  /** A copy that can grow on its own (a stage built FROM another stage); an unread base tree stays unread. */
  async clone(): Promise<StageFs> {
    if (this.tree === undefined && this.layers.length === 0) return new StageFs(this.base, this.baseSource);
    return new StageFs(this.base, this.baseSource, [...this.layers], new Map(await this.nodes()));
  }

  /** Every path of the stage (no leading `/`) with its metadata. */
  async nodes(): Promise<Map<string, FsNode>> {
    if (this.tree === undefined) {
      const tree = new Map<string, FsNode>();
      if (this.base && this.baseSource) {
        for (const e of await treeFromImage(this.baseSource, { image: this.base, hash: false }))
          tree.set(e.path, {
            type: e.type,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            ...(e.link !== undefined ? { link: e.link } : {}),
          });
      }
      this.tree = tree;
    }
    return this.tree;
  }

  /** Records a layer this build wrote on top of the stage, with the entries it holds. */
  async addLayer(blob: LayerBlob, entries: readonly TarWriteEntry[]): Promise<void> {
    const tree = await this.nodes();
    for (const e of entries) {
      const path = cleanEntryPath(e.header.name)?.join('/');
      if (!path) continue;
      const type = e.header.type ?? (e.header.name.endsWith('/') ? 'directory' : 'file');
      if (type === 'hardlink') {
        // A hardlink is its target's file under another name.
        const target = tree.get(cleanEntryPath(e.header.linkname ?? '')?.join('/') ?? '');
        if (target) tree.set(path, target);
        continue;
      }
      const old = tree.get(path);
      if (old && (old.type !== 'directory' || type !== 'directory')) {
        for (const k of [...tree.keys()]) if (k.startsWith(`${path}/`)) tree.delete(k);
      }
      tree.set(path, {
        type,
        mode: e.header.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: e.header.uid ?? 0,
        gid: e.header.gid ?? 0,
        ...(e.header.linkname !== undefined && type === 'symlink' ? { link: e.header.linkname } : {}),
      });
    }
    this.layers.push(blob);
  }

  /**
   * The path `path` names once symlinks in it are followed inside the stage (`..` never climbs above the root);
   * `followLast` false keeps a final symlink as it is. Undefined for a symlink loop.
   */
  async resolve(path: string, followLast = true): Promise<string | undefined> {
    const tree = await this.nodes();
    const queue = path.split('/').filter((p) => p !== '' && p !== '.');
    const cur: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const name = queue.shift() as string;
      if (name === '.' || name === '') continue;
      if (name === '..') {
        cur.pop();
        continue;
      }
      const candidate = [...cur, name].join('/');
      const node = tree.get(candidate);
      if (node?.type === 'symlink' && node.link !== undefined && (queue.length > 0 || followLast)) {
        if (++hops > MAX_HOPS) return undefined;
        if (node.link.startsWith('/')) cur.length = 0;
        queue.unshift(...node.link.split('/').filter((p) => p !== '' && p !== '.'));
        continue;
      }
      cur.push(name);
    }
    return cur.join('/');
  }

  /** The whole stage as one image (base layers and this build's), readable by the rootfs functions. */
  private synthetic(): { source: ImageSource; image: LoadedImage } {
    const descs = [...(this.base?.layers ?? []), ...this.layers.map((l) => l.descriptor)];
    const diffIds = [...(this.base?.config.config.rootfs.diff_ids ?? []), ...this.layers.map((l) => l.diffId)];
    const cfg = buildConfig({ architecture: 'unknown', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } });
    const man = buildManifest({ config: cfg.descriptor, layers: descs });
    const image: LoadedImage = {
      manifest: parseManifest(man.bytes) as ParsedImageManifest,
      config: parseImageConfig(cfg.bytes),
      layers: descs,
    };
    const local = new Map(this.layers.map((l) => [l.descriptor.digest as string, l.path]));
    const baseSource = this.baseSource;
    const source: ImageSource = {
      name: 'build stage',
      resolve: async () => man.descriptor,
      fetchManifest: async () => man.bytes,
      openBlob: async (d, o) => {
        const p = local.get(d.digest);
        if (p !== undefined) return Readable.toWeb(createReadStream(p)) as unknown as ReadableStream<Uint8Array>;
        if (!baseSource) throw new Error(`layer ${d.digest} is not part of the stage`);
        return baseSource.openBlob(d, o);
      },
    };
    return { source, image };
  }

  /**
   * The entries of the stage whose paths `want` accepts, with file contents (spooled to disk with `spool`, else in
   * memory up to 4 MiB each). A hardlink whose target is not among them becomes a copy of the target's content (as a
   * copy out of a file system gives).
   */
  async collect(want: (path: string) => boolean, spool?: Spool): Promise<Map<string, StageEntry>> {
    const out = new Map<string, StageEntry>();
    if (this.layers.length === 0 && !this.base) return out;
    const links: [string, TarEntryInit, string][] = [];
    const read = async (accept: (path: string) => boolean, onEntry: (path: string, e: StageEntry) => void) => {
      const { source, image } = this.synthetic();
      for await (const e of readTar(flattenImage(source, { image }))) {
        const path = cleanEntryPath(e.header.name)?.join('/');
        if (!path || !accept(path)) continue;
        const h = e.header;
        if (h.type === 'other') continue;
        const header: TarEntryInit = {
          name: h.type === 'directory' ? `${path}/` : path,
          type: h.type,
          mode: h.mode & 0o7777,
          uid: h.uid,
          gid: h.gid,
          mtime: h.mtime,
          ...(h.type === 'symlink' || h.type === 'hardlink' ? { linkname: h.linkname } : {}),
          ...(h.type === 'char-device' || h.type === 'block-device'
            ? { devmajor: h.devmajor, devminor: h.devminor }
            : {}),
          ...(h.type === 'file' ? { size: h.size } : {}),
        };
        if (h.type !== 'file') onEntry(path, { header });
        else if (spool) onEntry(path, { header, file: await spool.write(e.body) });
        else onEntry(path, { header, body: await e.bytes() });
      }
    };
    await read(want, (path, e) => {
      if (e.header.type === 'hardlink') {
        const target = cleanEntryPath(e.header.linkname ?? '')?.join('/') ?? '';
        links.push([path, e.header, target]);
      } else out.set(path, e);
    });
    const missing = new Set(links.filter(([, , t]) => !out.has(t)).map(([, , t]) => t));
    const targets = new Map<string, StageEntry>();
    if (missing.size > 0)
      await read(
        (p) => missing.has(p),
        (p, e) => targets.set(p, e),
      );
    for (const [path, header, target] of links) {
      if (out.has(target)) {
        out.set(path, { header });
        continue;
      }
      const t = targets.get(target);
      if (t?.body || t?.file)
        out.set(path, {
          header: { ...t.header, name: path, ...(header.mtime !== undefined ? { mtime: header.mtime } : {}) },
          ...(t.file !== undefined ? { file: t.file } : { body: t.body as Uint8Array }),
        });
    }
    return out;
  }

  /** A regular file's content (symlinks followed), or undefined when the stage has no such file. */
  async readFile(path: string): Promise<Uint8Array | undefined> {
    const resolved = await this.resolve(path);
    if (!resolved) return undefined;
    const node = (await this.nodes()).get(resolved);
    if (node?.type !== 'file') return undefined;
    const key = `${this.layers.length}:${resolved}`;
    if (!this.files.has(key)) this.files.set(key, (await this.collect((p) => p === resolved)).get(resolved)?.body);
    return this.files.get(key);
  }
}
