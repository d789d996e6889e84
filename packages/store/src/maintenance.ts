import { readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createHasher, type Digest, digestAlgorithm } from '@lade/digest';
import type { BlobInfo } from './blob-store.js';
import type { OciIndexFile, OciLayout } from './layout.js';
import { reachableBlobs } from './layout-transport.js';
import { scanLeases } from './lease.js';
import { isStaleLock } from './lock.js';

/** What {@link collectGarbage} removed. */
export interface GcReport {
  readonly removedBlobs: readonly BlobInfo[];
  /** Abandoned ingest files, stale leases and temp files of dead processes. */
  readonly removedFiles: readonly string[];
  /** Bytes freed, blobs and temp files together. */
  readonly reclaimedBytes: number;
  /** Unreferenced blobs kept because a writer in progress may be about to name them. */
  readonly keptForWriters: number;
  /**
   * Set when blobs were not swept at all: some named image has a missing or unreadable manifest, so what it
   * references is unknown. Remove or re-pull those images (see fsck), then collect again.
   */
  readonly sweepSkipped?: string;
}

/** One problem or leftover fsck found. */
export interface FsckGarbage {
  readonly path: string;
  readonly size: number;
  readonly reason: 'ingest-temp' | 'ingest-in-progress' | 'stray-entry' | 'stale-lease' | 'stale-lock' | 'temp-file';
}

/** The result of {@link checkStore}; `ok` is false only for real damage (garbage is fine). */
export interface FsckReport {
  readonly ok: boolean;
  readonly blobsChecked: number;
  readonly bytesChecked: number;
  /** Blobs whose content does not hash to their name. */
  readonly corrupt: readonly { readonly digest: Digest; readonly path: string; readonly actual: Digest }[];
  /** Blobs referenced from index.json (through manifests) that are absent. */
  readonly missing: readonly { readonly digest: Digest; readonly neededBy: string }[];
  /** Manifests that are present but unreadable. */
  readonly invalidManifests: readonly { readonly digest: Digest; readonly problem: string }[];
  /** Blobs no entry references: GC removes them. */
  readonly orphans: readonly BlobInfo[];
  /** Temp files and stray entries: GC removes them (those of live writers excepted). */
  readonly garbage: readonly FsckGarbage[];
  /** index.json or oci-layout could not be read. */
  readonly layoutError?: string;
  /** With `repair`: corrupt blobs deleted, so that pulling the images again fetches them anew. */
  readonly repaired: readonly Digest[];
}

/** Options of {@link checkStore}. */
export interface FsckOptions {
  /** Blobs hashed at once (default 2). */
  readonly concurrency?: number;
  /** Delete corrupt blobs (they are useless, and a pull skips blobs that are present). */
  readonly repair?: boolean;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

const DAY = 24 * 60 * 60 * 1000;

// index.json.<pid>.<hex>.tmp (atomic writes) and index.json.lock.<pid>.<token> (lock candidates) at the root.
const rootTempPattern = /^(?:index\.json|oci-layout)(?:\.lock)?\.(\d+)\.[0-9a-f]+(?:\.tmp)?$/;

async function rootTempFiles(dir: string): Promise<{ path: string; size: number; live: boolean }[]> {
  const out: { path: string; size: number; live: boolean }[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = rootTempPattern.exec(name);
    if (!m) continue;
    const path = join(dir, name);
    const s = await stat(path).catch(() => undefined);
    if (!s) continue;
    out.push({ path, size: s.size, live: pidAlive(Number(m[1])) && Date.now() - s.mtimeMs < DAY });
  }
  return out;
}

/** Temp files are abandoned when their writer is dead, or older than a day (a writer on another host). */
function abandoned(t: { pid?: number; mtimeMs: number }): boolean {
  if (Date.now() - t.mtimeMs > DAY) return true;
  return t.pid !== undefined && !pidAlive(t.pid);
}

/** Mark from `index` (already read under the writer lock), sweep the layout's blobs and leftovers. */
export async function collectGarbage(layout: OciLayout, index: OciIndexFile): Promise<GcReport> {
  const { reachable, unknown } = await reachableBlobs(layout, index.manifests);
  const sweepSkipped =
    unknown.size > 0
      ? `not deleting any blob: the manifests of ${[...unknown].join(', ')} are missing or unreadable, so what they need is unknown; remove or pull those images again`
      : undefined;
  const leases = await scanLeases(layout.dir);
  const removedFiles: string[] = [];
  let reclaimedBytes = 0;
  for (const p of leases.stale) {
    await unlink(p).catch(() => {});
    removedFiles.push(p);
  }
  const removedBlobs: BlobInfo[] = [];
  let keptForWriters = 0;
  for await (const d of sweepSkipped ? [] : layout.blobs.list()) {
    if (reachable.has(d)) continue;
    const s = await stat(layout.blobs.blobPath(d)).catch(() => undefined);
    if (!s) continue;
    if (leases.protectSinceMs !== undefined && s.mtimeMs >= leases.protectSinceMs) {
      keptForWriters++;
      continue;
    }
    if (await layout.blobs.delete(d)) {
      removedBlobs.push({ digest: d, size: s.size });
      reclaimedBytes += s.size;
    }
  }
  for (const t of await layout.blobs.tempFiles()) {
    if (!abandoned(t)) continue;
    await layout.blobs.removeGarbage(t.path);
    removedFiles.push(t.path);
    reclaimedBytes += t.size;
  }
  for (const t of await rootTempFiles(layout.dir)) {
    if (t.live) continue;
    await unlink(t.path).catch(() => {});
    removedFiles.push(t.path);
    reclaimedBytes += t.size;
  }
  return { removedBlobs, removedFiles, reclaimedBytes, keptForWriters, ...(sweepSkipped ? { sweepSkipped } : {}) };
}

async function rehash(layout: OciLayout, d: Digest): Promise<{ actual: Digest; size: number }> {
  const h = createHasher(digestAlgorithm(d));
  const reader = (await layout.blobs.read(d)).getReader();
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    h.update(value);
    size += value.byteLength;
  }
  return { actual: h.digest(), size };
}

/**
 * Checks a layout: every blob re-hashed against its name, every blob that index.json reaches present and every
 * manifest readable. Orphans and temp files are listed as garbage, which does not make the store unhealthy.
 */
export async function checkStore(layout: OciLayout, options: FsckOptions = {}): Promise<FsckReport> {
  let index: OciIndexFile;
  try {
    index = await layout.readIndex();
  } catch (err) {
    return {
      ok: false,
      blobsChecked: 0,
      bytesChecked: 0,
      corrupt: [],
      missing: [],
      invalidManifests: [],
      orphans: [],
      garbage: [],
      layoutError: err instanceof Error ? err.message : String(err),
      repaired: [],
    };
  }
  const { reachable, missing, invalid } = await reachableBlobs(layout, index.manifests);
  const all: Digest[] = [];
  for await (const d of layout.blobs.list()) all.push(d);
  const corrupt: { digest: Digest; path: string; actual: Digest }[] = [];
  const orphans: BlobInfo[] = [];
  let bytesChecked = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < all.length) {
      const d = all[next++]!;
      let r: { actual: Digest; size: number };
      try {
        r = await rehash(layout, d);
      } catch {
        continue; // deleted meanwhile (a concurrent GC)
      }
      bytesChecked += r.size;
      if (r.actual !== d) corrupt.push({ digest: d, path: layout.blobs.blobPath(d), actual: r.actual });
      if (!reachable.has(d)) orphans.push({ digest: d, size: r.size });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));
  const garbage: FsckGarbage[] = [];
  for (const t of await layout.blobs.tempFiles()) {
    garbage.push({ path: t.path, size: t.size, reason: abandoned(t) ? 'ingest-temp' : 'ingest-in-progress' });
  }
  for (const s of await layout.blobs.strayEntries())
    garbage.push({ path: s.path, size: s.size, reason: 'stray-entry' });
  for (const p of (await scanLeases(layout.dir)).stale) garbage.push({ path: p, size: 0, reason: 'stale-lease' });
  for (const t of await rootTempFiles(layout.dir)) garbage.push({ path: t.path, size: t.size, reason: 'temp-file' });
  // A lock whose holder died: harmless (the next writer breaks it), reported so users know why it is there.
  if (await isStaleLock(layout.lockPath)) garbage.push({ path: layout.lockPath, size: 0, reason: 'stale-lock' });
  const repaired: Digest[] = [];
  if (options.repair) {
    for (const c of corrupt) if (await layout.blobs.delete(c.digest)) repaired.push(c.digest);
  }
  const missingList = [...missing].map(([digest, neededBy]) => ({ digest, neededBy }));
  const invalidList = [...invalid].map(([digest, problem]) => ({ digest, problem }));
  return {
    ok: corrupt.length === 0 && missingList.length === 0 && invalidList.length === 0,
    blobsChecked: all.length,
    bytesChecked,
    corrupt,
    missing: missingList,
    invalidManifests: invalidList,
    orphans,
    garbage,
    repaired,
  };
}
