import { randomBytes } from 'node:crypto';
import { close, open as openFd, read } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { StorageError } from '../errors.js';
import { checkPath, type FileInfo, type FileWriter, type StorageDriver } from './driver.js';

const fdOpen = (path: string, flags: string) =>
  new Promise<number>((resolve, reject) => openFd(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
const fdRead = (fd: number, buf: Buffer, offset: number, length: number, position: number) =>
  new Promise<number>((resolve, reject) =>
    read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
const fdClose = (fd: number) => new Promise<void>((resolve) => close(fd, () => resolve()));

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * A driver over a local directory. Small files and new files are written to a temporary name beside the target and
 * renamed into place, so a crash never leaves a half-written file at a visible path.
 */
export class FilesystemDriver implements StorageDriver {
  readonly name = 'filesystem';
  readonly root: string;

  constructor(rootDirectory: string) {
    this.root = resolve(rootDirectory);
  }

  #full(path: string): string {
    return join(this.root, checkPath(path));
  }

  #temp(full: string): string {
    return `${full}.tmp-${randomBytes(6).toString('hex')}`;
  }

  localPath(path: string): string {
    return this.#full(path);
  }

  async getContent(path: string): Promise<Uint8Array | undefined> {
    // Plain fd calls: much cheaper than readFile or FileHandle for the small links read on every request.
    let fd: number;
    try {
      fd = await fdOpen(this.#full(path), 'r');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    try {
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const buf = Buffer.allocUnsafe(Math.max(16 * 1024, total));
        const bytesRead = await fdRead(fd, buf, 0, buf.length, total);
        if (bytesRead === 0) break;
        chunks.push(buf.subarray(0, bytesRead));
        total += bytesRead;
        if (bytesRead < buf.length) break;
      }
      return new Uint8Array(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    } finally {
      await fdClose(fd);
    }
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    const full = this.#full(path);
    await mkdir(dirname(full), { recursive: true });
    const tmp = this.#temp(full);
    try {
      await writeFile(tmp, content);
      await rename(tmp, full);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async reader(path: string, offset = 0, end?: number): Promise<ReadableStream<Uint8Array> | undefined> {
    const full = this.#full(path);
    let handle: FileHandle;
    try {
      handle = await open(full, 'r');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const options: { start: number; end?: number; highWaterMark: number } = {
      start: offset,
      highWaterMark: 256 * 1024,
    };
    if (end !== undefined) {
      if (end <= offset) {
        await handle.close();
        return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      }
      options.end = end - 1;
    }
    const nodeStream = handle.createReadStream(options);
    return Readable.toWeb(nodeStream) as ReadableStream<Uint8Array>;
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const full = this.#full(path);
    await mkdir(dirname(full), { recursive: true });
    const target = append ? full : this.#temp(full);
    const handle = await open(target, append ? 'a' : 'w');
    let size = append ? (await handle.stat()).size : 0;
    // Request bodies arrive in ~64 KiB pieces: gather them into ~1 MiB writes (one thread-pool trip each).
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async () => {
      if (pendingBytes === 0) return;
      const chunks = pending;
      pending = [];
      pendingBytes = 0;
      let buffers = chunks;
      while (buffers.length > 0) {
        const { bytesWritten } = await handle.writev(buffers);
        let left = bytesWritten;
        const rest: Uint8Array[] = [];
        for (const b of buffers) {
          if (left >= b.byteLength) left -= b.byteLength;
          else {
            rest.push(b.subarray(left));
            left = 0;
          }
        }
        buffers = rest;
      }
    };
    let done = false;
    const close = async () => {
      if (!done) {
        done = true;
        await handle.close();
      }
    };
    return {
      get size() {
        return size;
      },
      async write(chunk) {
        if (done) throw new StorageError('STORAGE_FAILED', `writer for ${path} is closed`);
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        size += chunk.byteLength;
        if (pendingBytes >= 1024 * 1024) await flush();
      },
      async commit() {
        if (done) return;
        try {
          await flush();
        } finally {
          await close();
        }
        if (!append) await rename(target, full);
      },
      async cancel() {
        if (done) return;
        // An appending writer keeps what it received: an upload resumes from whatever reached the disk.
        if (append) await flush().catch(() => {});
        await close();
        if (!append) await rm(target, { force: true });
      },
    };
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    try {
      const s = await stat(this.#full(path));
      return { path, size: s.isDirectory() ? 0 : s.size, modTime: s.mtime, isDir: s.isDirectory() };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(path: string): Promise<string[]> {
    try {
      const names = await readdir(this.#full(path));
      return names.filter((n) => !n.includes('.tmp-')).sort();
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  async move(source: string, destination: string): Promise<void> {
    const from = this.#full(source);
    const to = this.#full(destination);
    await mkdir(dirname(to), { recursive: true });
    try {
      await rename(from, to);
    } catch (err) {
      if (isNotFound(err))
        throw new StorageError('PATH_NOT_FOUND', `cannot move ${source}: it does not exist`, { cause: err });
      throw err;
    }
  }

  async delete(path: string): Promise<void> {
    await rm(this.#full(path), { recursive: true, force: true });
  }
}
