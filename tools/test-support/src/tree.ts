import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** One object of a tree as the comparison sees it. */
export interface TreeLine {
  readonly path: string;
  readonly type: string;
  readonly mode: string;
  readonly owner: string;
  readonly size: number;
  readonly link?: string;
  readonly sha256?: string;
  readonly mtime?: number;
}

function typeOf(st: import('node:fs').Stats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

/**
 * Describes every object under `root` (not the root itself): path, type, mode (incl. setuid/setgid/sticky),
 * owner, size, link target, content hash, and the mtime (seconds) of files and symlinks; hardlinked files
 * are tagged with the first path of their inode. Sorted by path.
 */
export function describeTree(root: string, options: { owners?: boolean; mtimes?: boolean } = {}): TreeLine[] {
  const out: TreeLine[] = [];
  const inodes = new Map<number, string>();
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const a = `${abs}/${name}`;
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(a);
      const type = typeOf(st);
      const line: { -readonly [K in keyof TreeLine]: TreeLine[K] } = {
        path: r,
        type,
        mode: (st.mode & 0o7777).toString(8),
        owner: options.owners === false ? '' : `${st.uid}:${st.gid}`,
        size: type === 'file' ? st.size : 0,
      };
      if (type === 'symlink') line.link = readlinkSync(a);
      if (type === 'file') {
        line.sha256 = createHash('sha256').update(readFileSync(a)).digest('hex');
        if (st.nlink > 1) {
          const first = inodes.get(st.ino);
          if (first === undefined) inodes.set(st.ino, r);
          else line.link = `hardlink:${first}`;
        }
      }
      if (options.mtimes !== false && (type === 'file' || type === 'symlink'))
        line.mtime = Math.floor(st.mtimeMs / 1000);
      out.push(line);
      if (type === 'dir') walk(a, r);
    }
  };
  walk(root, '');
  return out;
}

/** Every path whose description differs between two trees (missing on one side included); empty when equal. */
export function treeDifferences(a: readonly TreeLine[], b: readonly TreeLine[]): string[] {
  const am = new Map(a.map((l) => [l.path, JSON.stringify(l)]));
  const bm = new Map(b.map((l) => [l.path, JSON.stringify(l)]));
  const out: string[] = [];
  for (const [p, l] of am) if (bm.get(p) !== l) out.push(`${p}: ${l} vs ${bm.get(p) ?? '(missing)'}`);
  for (const [p, l] of bm) if (!am.has(p)) out.push(`${p}: (missing) vs ${l}`);
  return out;
}
