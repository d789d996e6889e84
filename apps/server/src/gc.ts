import type { Digest } from '@lade/digest';
import { parseManifestBody } from './manifest-body.js';
import type { RegistryStore } from './registry-store.js';

/** Options of garbage collection. */
export interface GcOptions {
  /** Keep blobs (and blob links) younger than this, so pushes in progress lose nothing (default 1 hour). */
  readonly gracePeriodMs?: number;
  /** Delete upload sessions older than this (default 7 days). */
  readonly uploadMaxAgeMs?: number;
  /** Report what would be deleted without deleting. */
  readonly dryRun?: boolean;
}

/** What a collection found and removed. */
export interface GcReport {
  readonly marked: number;
  readonly blobsDeleted: number;
  readonly bytesFreed: number;
  readonly uploadsPurged: number;
  readonly deleted: readonly Digest[];
}

/**
 * Mark and sweep: marks every manifest revision of every repository and everything those manifests reference,
 * plus recently linked or written blobs (the grace period), then deletes the other blobs' content and their links.
 */
export async function collectGarbage(store: RegistryStore, options: GcOptions = {}): Promise<GcReport> {
  const grace = options.gracePeriodMs ?? 60 * 60 * 1000;
  const uploadMaxAge = options.uploadMaxAgeMs ?? 7 * 24 * 60 * 60 * 1000;
  const now = Date.now();
  const marked = new Set<Digest>();
  const repos = await store.catalog();
  const staleLinks: { repo: string; digest: Digest }[] = [];
  let uploadsPurged = 0;
  for (const repo of repos) {
    for (const digest of await store.listManifests(repo)) {
      marked.add(digest);
      const content = await store.manifestContent(digest);
      if (!content) continue;
      try {
        const parsed = parseManifestBody(content.bytes, undefined);
        if (parsed.config) marked.add(parsed.config.digest);
        for (const l of parsed.layers) marked.add(l.digest);
        for (const m of parsed.manifests) marked.add(m.digest);
      } catch {
        // Unparseable (e.g. schema 1) manifests keep only themselves.
      }
    }
    for (const link of await store.listLayerLinks(repo)) {
      if (now - link.modTime.getTime() < grace) marked.add(link.digest);
      else staleLinks.push({ repo, digest: link.digest });
    }
    for (const id of await store.listUploads(repo)) {
      const state = await store.uploadState(repo, id);
      if (state && now - state.startedAt.getTime() > uploadMaxAge) {
        uploadsPurged++;
        if (!options.dryRun) await store.cancelUpload(repo, id);
      }
    }
  }
  const deleted: Digest[] = [];
  let bytesFreed = 0;
  for await (const digest of store.listBlobs()) {
    if (marked.has(digest)) continue;
    const info = await store.statBlob(digest);
    if (!info || now - info.modTime.getTime() < grace) continue;
    deleted.push(digest);
    bytesFreed += info.size;
    if (!options.dryRun) await store.deleteBlobContent(digest);
  }
  if (!options.dryRun) {
    const gone = new Set(deleted);
    for (const l of staleLinks) if (gone.has(l.digest)) await store.unlinkBlob(l.repo, l.digest);
  }
  return { marked: marked.size, blobsDeleted: deleted.length, bytesFreed, uploadsPurged, deleted };
}
