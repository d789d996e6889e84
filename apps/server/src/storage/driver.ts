import { StorageError } from '../errors.js';

/** What a driver knows about one path. */
export interface FileInfo {
  readonly path: string;
  /** Byte size of a file; 0 for a directory. */
  readonly size: number;
  readonly modTime: Date;
  readonly isDir: boolean;
}

/**
 * A streaming writer of one file. Content becomes visible at its path only after `commit()`;
 * `cancel()` discards what this writer wrote (an appending writer keeps the content that was there before).
 */
export interface FileWriter {
  /** Bytes the file holds once committed: the previous content (when appending) plus everything written. */
  readonly size: number;
  write(chunk: Uint8Array): Promise<void>;
  commit(): Promise<void>;
  cancel(): Promise<void>;
}

/**
 * The registry's storage: a tree of paths (`/a/b/c`, always absolute, no `.`/`..`) holding small values and large
 * streamed objects. Modelled on distribution's storagedriver; implemented for memory, the filesystem and S3.
 */
export interface StorageDriver {
  /** Short name for logs and metrics: `inmemory`, `filesystem`, `s3`. */
  readonly name: string;
  /** The whole content of a small file, or undefined when absent. */
  getContent(path: string): Promise<Uint8Array | undefined>;
  /** Replaces a small file atomically. */
  putContent(path: string, content: Uint8Array): Promise<void>;
  /** The file's bytes from `offset` (inclusive) to `end` (exclusive, default: end of file); undefined when absent. */
  reader(path: string, offset?: number, end?: number): Promise<ReadableStream<Uint8Array> | undefined>;
  /** A writer that replaces the file, or appends to it (`append: true`). */
  writer(path: string, append: boolean): Promise<FileWriter>;
  /** Information about a file or directory, or undefined when absent. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** The names of a directory's direct children (files and directories), or [] when absent. */
  list(path: string): Promise<string[]>;
  /** Moves a file, replacing the destination. Throws PATH_NOT_FOUND when the source is absent. */
  move(source: string, destination: string): Promise<void>;
  /** Deletes a file or a whole directory tree; absent paths are ignored. */
  delete(path: string): Promise<void>;
  /** A local filesystem path for a stored file, when the driver has one (lets the Node adapter send files natively). */
  localPath?(path: string): string | undefined;
  /** Releases connections. */
  close?(): Promise<void>;
}

const segment = /^[A-Za-z0-9._:-]+$/;

/** Validates a driver path: absolute, `/`-separated segments of safe characters, never `.` or `..`. */
export function checkPath(path: string): string {
  if (!path.startsWith('/') || path.length > 4096)
    throw new StorageError('STORAGE_INVALID_PATH', `invalid storage path "${path}"`);
  if (path === '/') return path;
  for (const part of path.slice(1).split('/')) {
    if (part === '' || part === '.' || part === '..' || !segment.test(part)) {
      throw new StorageError(
        'STORAGE_INVALID_PATH',
        `invalid storage path "${path}": segment "${part}" is not allowed`,
      );
    }
  }
  return path;
}
