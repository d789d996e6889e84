import { lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { LayerInvalidError } from './errors.js';

/** Symlinks followed while resolving one path before it counts as a loop (Linux's MAXSYMLINKS is 40). */
const MAX_SYMLINKS = 40;

/**
 * Splits a tar entry name into clean components: leading `/`, empty and `.` parts dropped, `..` resolved
 * lexically (as docker's `filepath.Clean` does). Returns undefined when `..` climbs above the root.
 */
export function cleanEntryPath(name: string): string[] | undefined {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

/**
 * Resolves directory paths inside a root as if the root were `/` (a chroot): every component is checked with
 * lstat, symlinks are expanded with absolute targets restarting at the root and `..` stopping at it, so no
 * resolved path can leave the root. Results are cached until {@link SecureRoot.invalidate} (called whenever a
 * directory or symlink is removed or replaced).
 */
export class SecureRoot {
  readonly root: string;
  readonly #cache = new Map<string, string>();
  /** Called with the root-relative path of every directory created on the way (implicit parents). */
  onImplicitDir: ((rel: string) => void) | undefined;

  constructor(root: string) {
    this.root = root;
  }

  invalidate(): void {
    this.#cache.clear();
  }

  /** The absolute path of `rel` (already resolved components) under the root. */
  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** The root-relative form of an absolute path this object produced. */
  rel(abs: string): string {
    return abs === this.root ? '' : abs.slice(this.root.length + 1);
  }

  /**
   * The real absolute path of directory `parts` inside the root, following symlinks within it.
   * With `create`, missing directories are made (mode 0755); without, undefined is returned for a missing one.
   * @throws LayerInvalidError when a component is not a directory or symlinks loop.
   */
  resolveDir(parts: readonly string[], create: boolean, entryName: string): string | undefined {
    const key = parts.join('/');
    const hit = this.#cache.get(key);
    if (hit !== undefined) return hit;
    let real: string[] = [];
    const queue = [...parts];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        real.pop();
        continue;
      }
      const path = real.length === 0 ? `${this.root}/${c}` : `${this.root}/${real.join('/')}/${c}`;
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (st === undefined) {
        if (!create) return undefined;
        mkdirSync(path, 0o755);
        real.push(c);
        this.onImplicitDir?.(real.join('/'));
        continue;
      }
      if (st.isDirectory()) {
        real.push(c);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) {
          throw new LayerInvalidError(
            `layer entry "${entryName}": too many levels of symbolic links under its parent directory; the layer is corrupt or hostile`,
          );
        }
        const target = readlinkSync(path);
        if (target.startsWith('/')) real = [];
        queue.unshift(...target.split('/'));
        continue;
      }
      if (!create) return undefined;
      throw new LayerInvalidError(
        `layer entry "${entryName}": its parent "${[...real, c].join('/')}" is not a directory; the layer does not fit the layers below it`,
      );
    }
    const result = real.length === 0 ? this.root : `${this.root}/${real.join('/')}`;
    this.#cache.set(key, result);
    return result;
  }
}
