import { StorageError } from '../errors.js';
import { checkPath, type FileInfo, type FileWriter, type StorageDriver } from './driver.js';

interface MemoryFile {
  chunks: Uint8Array[];
  size: number;
  modTime: Date;
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A driver that keeps everything in process memory: for tests, embedding and throwaway registries. */
export class MemoryDriver implements StorageDriver {
  readonly name = 'inmemory';
  readonly #files = new Map<string, MemoryFile>();

  async getContent(path: string): Promise<Uint8Array | undefined> {
    const f = this.#files.get(checkPath(path));
    if (!f) return undefined;
    const whole = concat(f.chunks, f.size);
    f.chunks = [whole];
    return whole.slice();
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    this.#files.set(checkPath(path), { chunks: [content.slice()], size: content.byteLength, modTime: new Date() });
  }

  async reader(path: string, offset = 0, end?: number): Promise<ReadableStream<Uint8Array> | undefined> {
    const f = this.#files.get(checkPath(path));
    if (!f) return undefined;
    const whole = concat(f.chunks, f.size);
    f.chunks = [whole];
    const stop = Math.min(end ?? whole.byteLength, whole.byteLength);
    let at = Math.min(offset, stop);
    const piece = 256 * 1024;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= stop) return controller.close();
        const next = Math.min(at + piece, stop);
        controller.enqueue(whole.slice(at, next));
        at = next;
      },
    });
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    checkPath(path);
    const files = this.#files;
    const existing = append ? files.get(path) : undefined;
    const base = existing ? [...existing.chunks] : [];
    const baseSize = existing?.size ?? 0;
    const added: Uint8Array[] = [];
    let size = baseSize;
    let done = false;
    return {
      get size() {
        return size;
      },
      async write(chunk) {
        if (done) throw new StorageError('STORAGE_FAILED', `writer for ${path} is closed`);
        added.push(chunk.slice());
        size += chunk.byteLength;
      },
      async commit() {
        if (done) return;
        done = true;
        files.set(path, { chunks: [...base, ...added], size, modTime: new Date() });
      },
      async cancel() {
        done = true;
      },
    };
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    checkPath(path);
    const f = this.#files.get(path);
    if (f) return { path, size: f.size, modTime: f.modTime, isDir: false };
    const prefix = path === '/' ? '/' : `${path}/`;
    let latest: Date | undefined;
    for (const [k, v] of this.#files) {
      if (k.startsWith(prefix) && (!latest || v.modTime > latest)) latest = v.modTime;
    }
    return latest ? { path, size: 0, modTime: latest, isDir: true } : undefined;
  }

  async list(path: string): Promise<string[]> {
    checkPath(path);
    const prefix = path === '/' ? '/' : `${path}/`;
    const names = new Set<string>();
    for (const k of this.#files.keys()) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      names.add(rest.split('/', 1)[0]!);
    }
    return [...names].sort();
  }

  async move(source: string, destination: string): Promise<void> {
    checkPath(source);
    checkPath(destination);
    const f = this.#files.get(source);
    if (!f) throw new StorageError('PATH_NOT_FOUND', `cannot move ${source}: it does not exist`);
    this.#files.delete(source);
    this.#files.set(destination, { ...f, modTime: new Date() });
  }

  async delete(path: string): Promise<void> {
    checkPath(path);
    this.#files.delete(path);
    const prefix = path === '/' ? '/' : `${path}/`;
    for (const k of [...this.#files.keys()]) if (k.startsWith(prefix)) this.#files.delete(k);
  }
}
