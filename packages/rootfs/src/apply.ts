import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
  writev,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Compression, TarEntry, TarHeader } from '@lade/archive';
import type { Digest } from '@lade/digest';
import { LayerInvalidError } from './errors.js';
import { openLayer } from './layer-stream.js';
import { cleanEntryPath, SecureRoot } from './paths.js';

/** Something lade could not reproduce faithfully and skipped (a device node without privileges, xattrs the system refuses). */
export interface RootfsWarning {
  /** `DEVICE_SKIPPED`, `XATTR_SKIPPED`, `ENTRY_SKIPPED`. */
  readonly code: string;
  /** The entry's path inside the root filesystem. */
  readonly path: string;
  readonly message: string;
}

/** Options of {@link applyLayer}. */
export interface ApplyLayerOptions {
  /** How the layer stream is compressed; `auto` (default) sniffs gzip/zstd/none from its first bytes. */
  readonly compression?: Compression | 'auto';
  /** The layer's diff_id: the uncompressed stream is hashed while it is applied and must match. */
  readonly expectedDiffId?: Digest;
  /** The compressed blob's digest and size (a manifest's layer descriptor): verified in the same pass. */
  readonly expectedBlob?: { readonly digest: Digest; readonly size?: number };
  /** Do not change ownership (files belong to the current user) and skip device nodes, as umoci's `--rootless`. */
  readonly rootless?: boolean;
  /** Called for each thing skipped. Default: ignored. */
  readonly onWarning?: (warning: RootfsWarning) => void;
  /** Largest size of one file (default 1 TiB); bigger declared sizes are refused before anything is written. */
  readonly maxEntrySize?: number;
  /** Named in error messages, e.g. `layer sha256:…`. */
  readonly name?: string;
  readonly signal?: AbortSignal;
}

/** What applying a layer found. */
export interface ApplyLayerResult {
  /** sha256 of the uncompressed layer: its diff_id. */
  readonly diffId: Digest;
  /** Uncompressed size in bytes. */
  readonly size: number;
  readonly compression: Compression;
  /** Entries in the layer (whiteouts included). */
  readonly entries: number;
}

interface DirFixup {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const DEFAULT_MAX_ENTRY = 2 ** 40;
const OPEN_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The process umask from /proc (reading it through process.umask() would change it or warn); undefined when unknown. */
function readUmask(): number | undefined {
  try {
    const m = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number.parseInt(m[1] as string, 8) : undefined;
  } catch {
    return undefined;
  }
}

/** Files above this size are written with asynchronous writes that overlap decompression. */
const ASYNC_WRITE_SIZE = 1024 * 1024;

function writeAllSync(fd: number, chunk: Uint8Array): void {
  let off = 0;
  while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
}

/** Bytes gathered into one `writev` of a big file: one thread-pool round trip per MiB, not per decompressed chunk. */
const WRITE_BATCH = 1024 * 1024;

/** Writes all of `chunks` at the file's current offset (a short write continues where it stopped). */
function writeAll(fd: number, chunks: readonly Uint8Array[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (rest: readonly Uint8Array[]) => {
      if (rest.length === 0) return resolve();
      writev(fd, rest as Uint8Array[], (err, n) => {
        if (err) return reject(err);
        let skip = n;
        const next: Uint8Array[] = [];
        for (const b of rest) {
          if (skip >= b.byteLength) {
            skip -= b.byteLength;
            continue;
          }
          next.push(skip > 0 ? b.subarray(skip) : b);
          skip = 0;
        }
        if (n === 0 && next.length > 0) return reject(new Error('write made no progress (is the disk full?)'));
        step(next);
      });
    };
    step(chunks);
  });
}

let setfattrPath: string | null | undefined;
function findSetfattr(): string | null {
  if (setfattrPath === undefined) {
    const r = spawnSync('sh', ['-c', 'command -v setfattr'], { encoding: 'utf8' });
    setfattrPath = r.status === 0 ? r.stdout.trim() : null;
  }
  return setfattrPath;
}

/**
 * Writes layers into one root directory. Every path is resolved inside the root (see {@link SecureRoot});
 * directory modes and times are fixed up in {@link LayerApplier.finish}, after their contents are written,
 * so a read-only directory still takes its files.
 * @internal
 */
export class LayerApplier {
  readonly root: SecureRoot;
  readonly privileged: boolean;
  readonly #warn: (w: RootfsWarning) => void;
  readonly #fixups = new Map<string, DirFixup>();
  readonly #xattrs: { path: string; xattrs: Readonly<Record<string, Uint8Array>> }[] = [];
  readonly #umask = readUmask();
  readonly #uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  readonly #gid = typeof process.getgid === 'function' ? process.getgid() : -1;
  /** True when every directory under the root was made by this applier, with its modes deferred to finish(). */
  readonly #fresh: boolean;
  /** Absolute paths this applier created (in a fresh tree, nothing else can exist). */
  readonly #created = new Set<string>();
  /** Root-relative real paths written by the current layer (opaque whiteouts keep these). */
  #layerPaths = new Set<string>();

  constructor(
    rootDir: string,
    options: { rootless?: boolean; onWarning?: (w: RootfsWarning) => void; fresh?: boolean } = {},
  ) {
    this.#fresh = options.fresh === true;
    this.root = new SecureRoot(realpathSync(rootDir));
    this.root.onImplicitDir = (rel) => {
      this.#touch(rel);
      if (this.#fresh) this.#created.add(this.root.abs(rel));
    };
    this.privileged = options.rootless !== true && typeof process.getuid === 'function' && process.getuid() === 0;
    this.#warn = options.onWarning ?? (() => {});
  }

  /** Applies one layer's tar stream (compressed or not), verifying its digests in the same pass. */
  async apply(layer: ReadableStream<Uint8Array>, options: ApplyLayerOptions = {}): Promise<ApplyLayerResult> {
    const maxEntry = options.maxEntrySize ?? DEFAULT_MAX_ENTRY;
    const opened = await openLayer(layer, options);
    this.#layerPaths = new Set();
    let entries = 0;
    let digests: { diffId: Digest; size: number };
    try {
      for (;;) {
        const entry = await opened.tar.next();
        if (entry === null) break;
        entries++;
        try {
          await this.#entry(entry, maxEntry);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENAMETOOLONG' || code === 'ELOOP' || code === 'ENOTDIR') {
            throw new LayerInvalidError(
              `layer entry "${entry.header.name}" cannot be written (${code}); the layer is corrupt or hostile`,
              { cause: e },
            );
          }
          throw e;
        }
      }
      digests = await opened.finish();
    } catch (e) {
      await opened.cancel(e);
      throw e;
    }
    return { ...digests, compression: opened.compression, entries };
  }

  async #entry(entry: TarEntry, maxEntry: number): Promise<void> {
    const h = entry.header;
    const parts = cleanEntryPath(h.name);
    if (parts === undefined)
      throw new LayerInvalidError(
        `layer entry "${h.name}" points outside the root filesystem; the layer is corrupt or hostile`,
      );
    if (h.size > maxEntry || h.size < 0 || !Number.isSafeInteger(h.size)) {
      throw new LayerInvalidError(
        `layer entry "${h.name}" declares ${h.size} bytes, beyond the ${maxEntry}-byte limit; the layer is corrupt or hostile`,
      );
    }
    const base = parts.pop();
    if (base === undefined) {
      // The root itself (`./`): only its metadata can change.
      if (h.type === 'directory') this.#fixups.set(this.root.root, this.#meta(h));
      return;
    }
    if (base.startsWith(WHITEOUT)) {
      if (base === OPAQUE) this.#opaque(parts, h.name);
      else if (!base.startsWith('.wh..wh.')) this.#whiteout(parts, base.slice(WHITEOUT.length), h.name);
      return;
    }
    const parent = this.root.resolveDir(parts, true, h.name) as string;
    const target = `${parent}/${base}`;
    const rel = this.root.rel(target);
    // In a fresh tree, a path this applier never created cannot exist: no need to clear the way.
    const isNew = this.#fresh && !this.#created.has(target);
    if (this.#fresh) this.#created.add(target);
    switch (h.type) {
      case 'directory':
        this.#directory(target, h);
        break;
      case 'file':
        await this.#file(target, h, entry.body);
        break;
      case 'symlink':
        if (!isNew) this.#remove(target);
        symlinkSync(h.linkname, target);
        if (this.privileged) lchownSync(target, h.uid, h.gid);
        lutimesSync(target, h.mtime, h.mtime);
        break;
      case 'hardlink':
        this.#hardlink(target, h);
        break;
      case 'char-device':
      case 'block-device':
      case 'fifo':
        if (!this.#device(target, h)) return;
        break;
      default:
        this.#warn({
          code: 'ENTRY_SKIPPED',
          path: rel,
          message: `skipped "${h.name}": tar type ${JSON.stringify(h.typeflag)} is not a file system object`,
        });
        return;
    }
    this.#touch(rel);
    if (h.xattrs && Object.keys(h.xattrs).length > 0) this.#xattrs.push({ path: target, xattrs: h.xattrs });
  }

  /** Marks `rel` and its parents as written by this layer (an opaque whiteout keeps them). */
  #touch(rel: string): void {
    let p = rel;
    while (p !== '' && !this.#layerPaths.has(p)) {
      this.#layerPaths.add(p);
      const i = p.lastIndexOf('/');
      p = i < 0 ? '' : p.slice(0, i);
    }
  }

  #meta(h: TarHeader): DirFixup {
    return { mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtime: h.mtime };
  }

  /** Removes whatever is at `abs` (a directory with its contents), never following a symlink. */
  #remove(abs: string): void {
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isDirectory()) {
      rmSync(abs, { recursive: true, force: true });
      this.root.invalidate();
      const prefix = `${abs}/`;
      for (const k of this.#fixups.keys()) if (k === abs || k.startsWith(prefix)) this.#fixups.delete(k);
    } else {
      unlinkSync(abs);
      if (st.isSymbolicLink()) this.root.invalidate();
    }
  }

  #directory(target: string, h: TarHeader): void {
    const st = lstatSync(target, { throwIfNoEntry: false });
    if (st !== undefined && !st.isDirectory()) this.#remove(target);
    if (st === undefined || !st.isDirectory()) mkdirSync(target, 0o755);
    if (this.privileged) lchownSync(target, h.uid, h.gid);
    this.#fixups.set(target, this.#meta(h));
  }

  /**
   * Writes a regular file. Files up to ASYNC_WRITE_SIZE use synchronous calls: on a 2-core machine a thread-pool
   * round trip costs more than the syscall itself (10k small files: 16 queued async writers were slower), and
   * decompression still runs in the thread pool meanwhile. Bigger files are written in ~1 MiB batches with one
   * write in flight, so the disk works while the next chunks are inflated and hashed.
   */
  async #file(target: string, h: TarHeader, body: ReadableStream<Uint8Array>): Promise<void> {
    const mode = h.mode & 0o7777;
    // With the umask known and not masking these bits, open() sets the mode and no fchmod is needed.
    const direct = this.#umask !== undefined && (mode & 0o7000) === 0 && (mode & this.#umask) === 0;
    let fd: number;
    try {
      fd = openSync(target, OPEN_FLAGS, direct ? mode : 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      this.#remove(target);
      fd = openSync(target, OPEN_FLAGS, direct ? mode : 0o600);
    }
    try {
      const reader = body.getReader();
      if (h.size <= ASYNC_WRITE_SIZE) {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          writeAllSync(fd, r.value);
        }
      } else {
        // Big files: ~1 MiB writes, one in flight in the thread pool while the next chunks are decompressed and hashed.
        let pending: Promise<void> | undefined;
        let batch: Uint8Array[] = [];
        let batched = 0;
        const flush = async () => {
          if (pending) await pending;
          pending = writeAll(fd, batch);
          batch = [];
          batched = 0;
        };
        try {
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
            batch.push(r.value);
            batched += r.value.byteLength;
            if (batched >= WRITE_BATCH) await flush();
          }
          if (batched > 0) await flush();
        } finally {
          if (pending) await pending;
        }
      }
      // A new file is owned by the process' ids; directories get their setgid bit only in finish(), so none is inherited.
      if (this.privileged && (h.uid !== this.#uid || h.gid !== this.#gid || !this.#fresh)) fchownSync(fd, h.uid, h.gid);
      if (!direct) fchmodSync(fd, mode);
      futimesSync(fd, h.atime ?? h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
  }

  #hardlink(target: string, h: TarHeader): void {
    const parts = cleanEntryPath(h.linkname);
    const base = parts?.pop();
    if (parts === undefined || base === undefined) {
      throw new LayerInvalidError(
        `layer entry "${h.name}" is a hardlink to "${h.linkname}", outside the root filesystem; the layer is corrupt or hostile`,
      );
    }
    const parent = this.root.resolveDir(parts, false, h.name);
    const source = parent === undefined ? undefined : `${parent}/${base}`;
    const st = source === undefined ? undefined : lstatSync(source, { throwIfNoEntry: false });
    if (source === undefined || st === undefined) {
      throw new LayerInvalidError(
        `layer entry "${h.name}" is a hardlink to "${h.linkname}", which does not exist in the root filesystem; the layer is corrupt`,
      );
    }
    if (st.isDirectory())
      throw new LayerInvalidError(
        `layer entry "${h.name}" is a hardlink to the directory "${h.linkname}"; the layer is corrupt or hostile`,
      );
    if (source === target) return;
    this.#remove(target);
    linkSync(source, target);
  }

  /** Creates a device node or fifo (root only, with mknod(1) since Node has no mknod); false when skipped. */
  #device(target: string, h: TarHeader): boolean {
    const rel = this.root.rel(target);
    if (!this.privileged) {
      this.#warn({
        code: 'DEVICE_SKIPPED',
        path: rel,
        message: `skipped ${h.type} "${h.name}": creating device nodes and fifos needs root (running rootless)`,
      });
      return false;
    }
    this.#remove(target);
    const kind =
      h.type === 'fifo' ? ['p'] : [h.type === 'char-device' ? 'c' : 'b', String(h.devmajor), String(h.devminor)];
    const r = spawnSync('mknod', [target, ...kind], { encoding: 'utf8' });
    if (r.status !== 0) {
      this.#warn({
        code: 'DEVICE_SKIPPED',
        path: rel,
        message: `skipped ${h.type} "${h.name}": mknod failed (${(r.stderr || String(r.error)).trim()})`,
      });
      return false;
    }
    lchownSync(target, h.uid, h.gid);
    chmodSync(target, h.mode & 0o7777);
    utimesSync(target, h.mtime, h.mtime);
    return true;
  }

  #whiteout(parts: string[], name: string, entryName: string): void {
    if (name === '' || name === '.' || name === '..') {
      throw new LayerInvalidError(
        `layer entry "${entryName}" whites out "${name}", which is not a name in its directory; the layer is corrupt or hostile`,
      );
    }
    const parent = this.root.resolveDir(parts, false, entryName);
    if (parent === undefined) return;
    const target = `${parent}/${name}`;
    // Whiteouts hide what the layers below put there, not this layer's own entries.
    if (this.#layerPaths.has(this.root.rel(target))) return;
    this.#remove(target);
  }

  #opaque(parts: string[], entryName: string): void {
    const dir = this.root.resolveDir(parts, true, entryName) as string;
    this.#touch(this.root.rel(dir));
    this.#clearLower(dir);
  }

  /** Removes everything under `dir` that the current layer did not write. */
  #clearLower(dir: string): void {
    for (const child of readdirSync(dir, { withFileTypes: true })) {
      const abs = `${dir}/${child.name}`;
      if (!this.#layerPaths.has(this.root.rel(abs))) this.#remove(abs);
      else if (child.isDirectory()) this.#clearLower(abs);
    }
  }

  /** Applies directory modes, owners and times (after their contents), then extended attributes. */
  finish(): void {
    const dirs = [...this.#fixups.keys()].sort().reverse();
    for (const dir of dirs) {
      const f = this.#fixups.get(dir) as DirFixup;
      const st = lstatSync(dir, { throwIfNoEntry: false });
      if (!st?.isDirectory()) continue;
      if (this.privileged) lchownSync(dir, f.uid, f.gid);
      chmodSync(dir, f.mode);
      utimesSync(dir, f.mtime, f.mtime);
    }
    this.#fixups.clear();
    this.#applyXattrs();
  }

  #applyXattrs(): void {
    const todo = this.#xattrs.splice(0).filter((x) => lstatSync(x.path, { throwIfNoEntry: false }) !== undefined);
    if (todo.length === 0) return;
    const setfattr = findSetfattr();
    const skipAll = (why: string) => {
      for (const x of todo) {
        this.#warn({
          code: 'XATTR_SKIPPED',
          path: this.root.rel(x.path),
          message: `extended attributes of "${this.root.rel(x.path)}" not applied: ${why}`,
        });
      }
    };
    if (setfattr === null) {
      skipAll('this runtime has no setxattr and setfattr(1) is not installed (install the attr package)');
      return;
    }
    // One setfattr run per layer, in getfattr's dump format; -h never follows a symlink.
    const lines: string[] = [];
    for (const x of todo) {
      lines.push(`# file: ${x.path}`);
      for (const [k, v] of Object.entries(x.xattrs)) lines.push(`${k}=0s${Buffer.from(v).toString('base64')}`);
      lines.push('');
    }
    const dump = join(tmpdir(), `lade-xattrs-${process.pid}-${Date.now()}`);
    writeFileSync(dump, `${lines.join('\n')}\n`, { mode: 0o600 });
    try {
      const r = spawnSync(setfattr, ['-h', `--restore=${dump}`], { encoding: 'utf8' });
      if (r.status !== 0)
        skipAll(`the file system refused them (${(r.stderr || String(r.error)).trim().split('\n')[0]})`);
    } finally {
      rmSync(dump, { force: true });
    }
  }
}

/**
 * Applies one layer (a tar stream, gzip/zstd/plain) onto the root filesystem in `dir`: regular files, directories,
 * symlinks, hardlinks inside the root, device nodes and fifos when root, modes with setuid/setgid/sticky, ownership
 * when root, mtimes, and whiteouts (`.wh.NAME`, opaque `.wh..wh..opq`). No write ever lands outside `dir`.
 *
 * The layer is applied in place: when it fails (a hostile entry, a digest mismatch) `dir` is left partly updated.
 * Use {@link unpackImage}, which unpacks into a temporary sibling, when a failure must leave nothing behind.
 *
 * @throws LayerInvalidError (`LAYER_INVALID`) for an entry escaping the root or not fitting the layers below.
 * @throws LayerDigestError (`DIGEST_INVALID`) when the content does not match `expectedDiffId`/`expectedBlob`.
 * @example
 * const { diffId } = await applyLayer('/tmp/rootfs', blobStream, { expectedDiffId: config.rootfs.diff_ids[0] });
 */
export async function applyLayer(
  dir: string,
  layer: ReadableStream<Uint8Array>,
  options: ApplyLayerOptions = {},
): Promise<ApplyLayerResult> {
  const applier = new LayerApplier(dir, {
    ...(options.rootless !== undefined ? { rootless: options.rootless } : {}),
    ...(options.onWarning ? { onWarning: options.onWarning } : {}),
  });
  let result: ApplyLayerResult;
  try {
    result = await applier.apply(layer, options);
  } catch (e) {
    try {
      applier.finish();
    } catch {
      // the layer's own error is the one to report
    }
    throw e;
  }
  applier.finish();
  return result;
}
