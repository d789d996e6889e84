import { type BigIntStats, closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createHasher, type Digest } from '@lade/digest';
import type { Platform } from '@lade/manifest';
import { UnpackRecordError } from './errors.js';

/** What a file system object is. */
export type TreeEntryType = 'file' | 'directory' | 'symlink' | 'char-device' | 'block-device' | 'fifo' | 'socket';

/** One object of an unpacked tree, as recorded after the unpack (like one line of umoci's mtree). */
export interface TreeEntry {
  /** Path inside the root, `/`-separated, without a leading `/` (`etc/hosts`). */
  readonly path: string;
  readonly type: TreeEntryType;
  /** Permission bits with setuid, setgid and sticky (`mode & 0o7777`). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of a regular file; 0 otherwise. */
  readonly size: number;
  /** Modification time in nanoseconds since the epoch, as a decimal string. */
  readonly mtime: string;
  /** A symlink's target. */
  readonly link?: string;
  /** Device number of a device node. */
  readonly rdev?: number;
  /** Inode identity (inode number and change time): an object whose identity is unchanged was not touched. */
  readonly ino?: string;
  readonly ctime?: string;
  /**
   * Birth time in nanoseconds, where the filesystem reports one: a directory deleted and made again can get the
   * same inode number back (ext4 reuses it at once), but never the same birth time.
   */
  readonly btime?: string;
  /** Content digest of a regular file (recorded when asked, and for trees derived from an image). */
  readonly sha256?: Digest;
}

/** The image an unpack came from. */
export interface UnpackedImage {
  /** The name the image was unpacked by (`alpine:3.19`), when known. */
  readonly name?: string;
  readonly manifest: Digest;
  readonly config: Digest;
  readonly diffIds: readonly Digest[];
  readonly platform?: Platform;
}

/** `lade-unpack.json`: what an unpack wrote, so a later diff knows what changed. Kept beside the root filesystem, never in it. */
export interface UnpackRecord {
  readonly version: 1;
  readonly image?: UnpackedImage;
  readonly rootless: boolean;
  /** Every object under the root (the root itself excluded), parents before children. */
  readonly entries: readonly TreeEntry[];
}

/** Options of {@link scanTree}. */
export interface ScanTreeOptions {
  /** Hash every regular file's content (sha256). Default false. */
  readonly hash?: boolean;
}

function typeOf(st: BigIntStats): TreeEntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** sha256 of a file's content, read in 1 MiB pieces. */
export function hashFile(path: string): Digest {
  const h = createHasher('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(1024 * 1024);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest();
}

/** The recorded form of one object at absolute path `abs`. */
export function statEntry(abs: string, path: string, options: ScanTreeOptions = {}): TreeEntry {
  const st = lstatSync(abs, { bigint: true });
  const type = typeOf(st);
  const entry: { -readonly [K in keyof TreeEntry]: TreeEntry[K] } = {
    path,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: type === 'file' ? Number(st.size) : 0,
    mtime: st.mtimeNs.toString(),
    ino: st.ino.toString(),
    ctime: st.ctimeNs.toString(),
  };
  if (st.birthtimeNs > 0n) entry.btime = st.birthtimeNs.toString();
  if (type === 'symlink') entry.link = readlinkSync(abs);
  if (type === 'char-device' || type === 'block-device') entry.rdev = Number(st.rdev);
  if (type === 'file' && options.hash) entry.sha256 = hashFile(abs);
  return entry;
}

/** Names in a directory in byte order (deterministic across runs and file systems). */
export function sortedNames(abs: string): string[] {
  return readdirSync(abs).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every object under `dir` (not `dir` itself), depth first with each directory's names sorted. */
export function scanTree(dir: string, options: ScanTreeOptions = {}): TreeEntry[] {
  const out: TreeEntry[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of sortedNames(abs)) {
      const childAbs = `${abs}/${name}`;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const e = statEntry(childAbs, childRel, options);
      out.push(e);
      if (e.type === 'directory') walk(childAbs, childRel);
    }
  };
  walk(dir, '');
  return out;
}

/** Writes a record atomically (temp file, rename). */
export async function writeUnpackRecord(path: string, record: UnpackRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, JSON.stringify(record));
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Reads and checks a `lade-unpack.json`.
 * @throws UnpackRecordError (`UNPACK_RECORD_INVALID`) when it is missing or malformed.
 */
export async function readUnpackRecord(path: string): Promise<UnpackRecord> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UnpackRecordError(
      `${path} does not exist: the directory was not unpacked by lade unpack (unpack the base image first)`,
      { cause: e },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UnpackRecordError(`${path} is not valid JSON; unpack the base image again`, { cause: e });
  }
  const r = value as Partial<UnpackRecord> | null;
  if (!r || typeof r !== 'object' || r.version !== 1 || !Array.isArray(r.entries)) {
    throw new UnpackRecordError(`${path} is not a lade unpack record (version 1); unpack the base image again`);
  }
  for (const e of r.entries as unknown[]) {
    const t = e as Partial<TreeEntry> | null;
    if (!t || typeof t.path !== 'string' || typeof t.type !== 'string' || typeof t.mode !== 'number') {
      throw new UnpackRecordError(
        `${path} has a malformed entry (${JSON.stringify(e).slice(0, 80)}); unpack the base image again`,
      );
    }
  }
  return r as UnpackRecord;
}
