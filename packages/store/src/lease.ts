import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** Directory (in a layout's root) of leases: markers of in-progress writers whose blobs GC must not sweep yet. */
export const LEASE_DIR = '.lade-leases';

/** A held lease; release it when the writer committed or gave up. */
export interface Lease {
  readonly path: string;
  readonly sinceMs: number;
  release(): Promise<void>;
}

interface LeaseFile {
  readonly pid: number;
  readonly host: string;
  readonly sinceMs: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Takes a lease in `root`: GC keeps every blob written or touched after it began, until it is released. */
export async function takeLease(root: string): Promise<Lease> {
  const dir = join(root, LEASE_DIR);
  await mkdir(dir, { recursive: true });
  // A little slack, so blobs whose mtime the filesystem rounds down stay protected.
  const sinceMs = Date.now() - 2_000;
  const path = join(dir, `${process.pid}-${randomBytes(6).toString('hex')}.json`);
  const body: LeaseFile = { pid: process.pid, host: hostname(), sinceMs };
  // Written aside and renamed, so a writer killed mid-write leaves a `.tmp` (ignored) and never a half-written lease.
  const tmp = `${path}.tmp`;
  await writeFile(tmp, JSON.stringify(body));
  await rename(tmp, path);
  let released = false;
  return {
    path,
    sinceMs,
    async release() {
      if (released) return;
      released = true;
      await unlink(path).catch(() => {});
    },
  };
}

/** What GC learns from the lease directory. */
export interface LeaseScan {
  /** The earliest start of a live lease: blobs modified since then are kept. Undefined when no writer is active. */
  readonly protectSinceMs?: number;
  /** Lease files of processes that are gone. */
  readonly stale: readonly string[];
}

/** Finds live and stale leases. Leases of other hosts count as live (their processes cannot be checked). */
export async function scanLeases(root: string): Promise<LeaseScan> {
  const dir = join(root, LEASE_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return { stale: [] };
  }
  let protectSinceMs: number | undefined;
  const stale: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (name.endsWith('.tmp')) {
      // A lease its writer never finished: stale once its process (named in the file name) is gone.
      const pid = Number.parseInt(name, 10);
      if (Number.isInteger(pid) && !pidAlive(pid)) stale.push(path);
      continue;
    }
    let lease: Partial<LeaseFile> | undefined;
    try {
      lease = JSON.parse(await readFile(path, 'utf8')) as Partial<LeaseFile>;
    } catch {
      lease = undefined;
    }
    if (!lease || typeof lease.pid !== 'number' || typeof lease.sinceMs !== 'number') {
      // Unreadable: a writer killed while creating it, once it is old enough to be sure.
      const s = await stat(path).catch(() => undefined);
      if (s && Date.now() - s.mtimeMs > 60_000) stale.push(path);
      else if (s) protectSinceMs = Math.min(protectSinceMs ?? Number.POSITIVE_INFINITY, s.mtimeMs - 2_000);
      continue;
    }
    if (lease.host === hostname() && !pidAlive(lease.pid)) {
      stale.push(path);
      continue;
    }
    protectSinceMs = Math.min(protectSinceMs ?? Number.POSITIVE_INFINITY, lease.sinceMs);
  }
  return { ...(protectSinceMs !== undefined ? { protectSinceMs } : {}), stale };
}
