import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { type TarWriteEntry, writeTar } from '@lade/archive';
import type { TreeEntry, UnpackRecord } from './record.js';
import { hashFile, sortedNames, statEntry } from './record.js';

/** docker diff's kinds: added, changed, deleted. */
export type ChangeKind = 'A' | 'C' | 'D';

/** One change of a directory against its base. */
export interface Change {
  readonly kind: ChangeKind;
  /** Absolute path inside the root filesystem, as `docker diff` prints it (`/etc/hosts`). */
  readonly path: string;
  /** The object now (for A and C). */
  readonly entry?: TreeEntry;
  /** For a C directory: it was removed and made again, so the layer marks it opaque instead of whiting out each old child. */
  readonly opaque?: boolean;
}

/** Options of {@link diffDirectory}. */
export interface DiffOptions {
  /** Compare content hashes also for base entries that carry inode identity (slower; catches `touch -r` tricks). */
  readonly hashAlways?: boolean;
}

function joinRel(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

function changedMeta(a: TreeEntry, b: TreeEntry): boolean {
  return a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid;
}

/**
 * Compares the tree in `dir` with `base` (a previous unpack's record, or entries derived from an image with
 * {@link treeFromImage}) and lists additions, changes and deletions sorted by path, like `docker diff`.
 * An object is unchanged when its type, mode, owner and size match and, when the base recorded it, its inode identity
 * (inode number, mtime and ctime) too — else its content hash. A deleted directory is one `D` (its children are implied).
 * @example
 * const changes = diffDirectory('bundle/rootfs', await readUnpackRecord('bundle/lade-unpack.json'));
 */
export function diffDirectory(
  dir: string,
  base: UnpackRecord | readonly TreeEntry[],
  options: DiffOptions = {},
): Change[] {
  const entries = Array.isArray(base) ? (base as readonly TreeEntry[]) : (base as UnpackRecord).entries;
  const baseMap = new Map<string, TreeEntry>();
  for (const e of entries) baseMap.set(e.path, e);
  const changes: Change[] = [];
  const seen = new Set<string>();
  /** Base paths whose whole subtree is already accounted for (replaced by a non-directory, or an opaque directory). */
  const covered = new Set<string>();

  const walk = (abs: string, rel: string, allNew: boolean) => {
    for (const name of sortedNames(abs)) {
      const childAbs = `${abs}/${name}`;
      const path = joinRel(rel, name);
      const cur = statEntry(childAbs, path);
      const b = allNew ? undefined : baseMap.get(path);
      let recurseAllNew = allNew;
      if (b === undefined) {
        changes.push({ kind: 'A', path: `/${path}`, entry: cur });
        recurseAllNew = true;
      } else {
        seen.add(path);
        if (b.type !== cur.type) {
          changes.push({ kind: 'C', path: `/${path}`, entry: cur });
          if (b.type === 'directory') covered.add(path);
          recurseAllNew = true;
        } else if (cur.type === 'directory') {
          if (b.ino !== undefined && (b.ino !== cur.ino || recreated(b, cur))) {
            changes.push({ kind: 'C', path: `/${path}`, entry: cur, opaque: true });
            covered.add(path);
            recurseAllNew = true;
          } else if (changedMeta(b, cur) || (b.ino !== undefined && b.mtime !== cur.mtime)) {
            changes.push({ kind: 'C', path: `/${path}`, entry: cur });
          }
        } else if (isModified(b, cur, childAbs, options)) {
          changes.push({ kind: 'C', path: `/${path}`, entry: cur });
        }
      }
      if (cur.type === 'directory') walk(childAbs, path, recurseAllNew);
    }
  };
  walk(dir, '', false);

  const gone = new Set<string>();
  const underAny = (path: string, set: Set<string>) => {
    for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) if (set.has(path.slice(0, i))) return true;
    return false;
  };
  for (const e of entries) {
    if (seen.has(e.path) || underAny(e.path, gone) || underAny(e.path, covered)) continue;
    gone.add(e.path);
    changes.push({ kind: 'D', path: `/${e.path}` });
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** A different birth time under the same inode number: the object was deleted and made again. */
function recreated(b: TreeEntry, cur: TreeEntry): boolean {
  return b.btime !== undefined && cur.btime !== undefined && b.btime !== cur.btime;
}

function isModified(b: TreeEntry, cur: TreeEntry, abs: string, options: DiffOptions): boolean {
  if (changedMeta(b, cur)) return true;
  switch (cur.type) {
    case 'symlink':
      return b.link !== cur.link;
    case 'char-device':
    case 'block-device':
      return b.rdev !== cur.rdev;
    case 'file':
      if (b.size !== cur.size) return true;
      if (
        b.ino !== undefined &&
        (b.ino !== cur.ino || recreated(b, cur) || b.mtime !== cur.mtime || b.ctime !== cur.ctime)
      )
        return true;
      if (b.sha256 !== undefined && (b.ino === undefined || options.hashAlways)) return hashFile(abs) !== b.sha256;
      return false;
    default:
      return b.ino !== undefined && b.ino !== cur.ino;
  }
}

/** Options of {@link diffLayer}. */
export interface DiffLayerOptions {
  /** Clamp every mtime to at most this (seconds since the epoch), as BuildKit does with SOURCE_DATE_EPOCH. */
  readonly sourceDateEpoch?: number;
  /** Set every mtime to exactly this (seconds since the epoch). */
  readonly mtime?: number;
  /** Write owner 0:0 for everything (for trees unpacked rootless, whose files belong to the current user). */
  readonly rootless?: boolean;
}

const SMALL_FILE = 1024 * 1024;

function fileBody(abs: string, size: number): Uint8Array | ReadableStream<Uint8Array> {
  if (size <= SMALL_FILE) return readFileSync(abs);
  let fd: number | undefined;
  return new ReadableStream<Uint8Array>(
    {
      pull(c) {
        fd ??= openSync(abs, 'r');
        const buf = new Uint8Array(SMALL_FILE);
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) {
          closeSync(fd);
          c.close();
        } else c.enqueue(buf.subarray(0, n));
      },
      cancel() {
        if (fd !== undefined) closeSync(fd);
      },
    },
    { highWaterMark: 0 },
  );
}

function major(rdev: number): number {
  return ((rdev >>> 8) & 0xfff) | ((Math.floor(rdev / 2 ** 32) & 0xfffff000) >>> 0);
}
function minor(rdev: number): number {
  return (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
}

/**
 * The layer tar of `changes` (from {@link diffDirectory}) read from `dir`: PAX format, entries sorted by name,
 * whiteouts (`.wh.NAME`) for deletions and `.wh..wh..opq` for directories made anew, hardlinks kept as hardlinks,
 * no user or group names, whole-second mtimes — the same tree and options always give the same bytes.
 * File bodies are read as the stream is pulled.
 */
export function diffLayer(
  dir: string,
  changes: readonly Change[],
  options: DiffLayerOptions = {},
): ReadableStream<Uint8Array> {
  const items: { name: string; make: () => TarWriteEntry }[] = [];
  const time = (ns: string): number => {
    if (options.mtime !== undefined) return options.mtime;
    const s = Number(BigInt(ns) / 1_000_000_000n);
    return options.sourceDateEpoch !== undefined ? Math.min(s, options.sourceDateEpoch) : s;
  };
  const zeroTime = options.mtime ?? options.sourceDateEpoch ?? 0;
  const firstPathOfInode = new Map<string, string>();
  for (const c of changes) {
    const rel = c.path.slice(1);
    const slash = rel.lastIndexOf('/');
    const parent = slash < 0 ? '' : rel.slice(0, slash + 1);
    if (c.kind === 'D') {
      items.push({
        name: `${parent}.wh.${rel.slice(slash + 1)}`,
        make: () => ({
          header: { name: `${parent}.wh.${rel.slice(slash + 1)}`, mode: 0o644, mtime: zeroTime },
          body: new Uint8Array(),
        }),
      });
      continue;
    }
    const e = c.entry as TreeEntry;
    const owner = options.rootless ? { uid: 0, gid: 0 } : { uid: e.uid, gid: e.gid };
    const common = { mode: e.mode, ...owner, mtime: time(e.mtime) };
    switch (e.type) {
      case 'directory':
        items.push({ name: `${rel}/`, make: () => ({ header: { name: `${rel}/`, type: 'directory', ...common } }) });
        if (c.opaque)
          items.push({
            name: `${rel}/.wh..wh..opq`,
            make: () => ({
              header: { name: `${rel}/.wh..wh..opq`, mode: 0o644, mtime: zeroTime },
              body: new Uint8Array(),
            }),
          });
        break;
      case 'file': {
        const first = e.ino !== undefined ? firstPathOfInode.get(e.ino) : undefined;
        if (first !== undefined) {
          items.push({
            name: rel,
            make: () => ({ header: { name: rel, type: 'hardlink', linkname: first, ...common, size: 0 } }),
          });
        } else {
          if (e.ino !== undefined) firstPathOfInode.set(e.ino, rel);
          items.push({
            name: rel,
            make: () => ({
              header: { name: rel, type: 'file', size: e.size, ...common },
              body: fileBody(`${dir}/${rel}`, e.size),
            }),
          });
        }
        break;
      }
      case 'symlink':
        items.push({
          name: rel,
          make: () => ({ header: { name: rel, type: 'symlink', linkname: e.link ?? '', ...common } }),
        });
        break;
      case 'char-device':
      case 'block-device': {
        const rdev = e.rdev ?? 0;
        items.push({
          name: rel,
          make: () => ({
            header: {
              name: rel,
              type: e.type as 'char-device',
              devmajor: major(rdev),
              devminor: minor(rdev),
              ...common,
            },
          }),
        });
        break;
      }
      case 'fifo':
        items.push({ name: rel, make: () => ({ header: { name: rel, type: 'fifo', ...common } }) });
        break;
      default:
        // Sockets cannot be stored in a tar (docker skips them too).
        break;
    }
  }
  // `changes` come sorted by path, so an inode's file entry is its first path in this order too: hardlinks follow it.
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  function* entries(): Generator<TarWriteEntry> {
    for (const it of items) yield it.make();
  }
  // Small files make small chunks; batching them keeps a compressor downstream from paying per-call overhead.
  return writeTar(entries(), { format: 'pax' }).pipeThrough(coalesce(256 * 1024));
}

/** Joins chunks into pieces of about `size` bytes (bigger chunks pass through whole). */
function coalesce(size: number): TransformStream<Uint8Array, Uint8Array> {
  let buf = new Uint8Array(size);
  let used = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      if (used + chunk.length > size && used > 0) {
        c.enqueue(buf.subarray(0, used));
        buf = new Uint8Array(size);
        used = 0;
      }
      if (chunk.length >= size) return c.enqueue(chunk);
      buf.set(chunk, used);
      used += chunk.length;
    },
    flush(c) {
      if (used > 0) c.enqueue(buf.subarray(0, used));
    },
  });
}

/** docker diff's lines: `A /path`, `C /path`, `D /path`. */
export function formatChanges(changes: readonly Change[]): string[] {
  return changes.map((c) => `${c.kind} ${c.path}`);
}
