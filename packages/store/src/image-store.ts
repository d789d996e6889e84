import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { type Digest, digestHex, isDigest } from '@lade/digest';
import {
  type ContainerConfig,
  type Descriptor,
  hostPlatform,
  type ImageSink,
  type ImageSource,
  ManifestInvalidError,
  type ParsedImageConfig,
  type ParsedImageManifest,
  type ParsedManifest,
  type Platform,
  selectManifest,
} from '@lade/manifest';
import { isImageIdPrefix, parseImageId } from '@lade/reference';
import type { BlobInfo } from './blob-store.js';
import {
  AmbiguousImageError,
  ImageConflictError,
  ImageUnknownError,
  LayoutInvalidError,
  NameInvalidError,
} from './errors.js';
import type { FsBlobStore } from './fs-blob-store.js';
import { type OciIndexFile, OciLayout, type OpenLayoutOptions, REF_NAME_ANNOTATION } from './layout.js';
import {
  checkComplete,
  LayoutImageSink,
  LayoutImageSource,
  type PendingRoot,
  plainDescriptor,
  reachableBlobs,
} from './layout-transport.js';
import { scanLeases } from './lease.js';
import type { LockOptions } from './lock.js';
import { checkStore, collectGarbage, type FsckOptions, type FsckReport, type GcReport } from './maintenance.js';
import { type ImageName, parseImageName, tryParseImageName } from './names.js';

/** lade's annotation on index.json entries: the full normalized name, `docker.io/library/alpine:3.19`. */
export const NAME_ANNOTATION = 'io.lade.image.name';
/** Comma-separated canonical references the image was pulled by, `docker.io/library/alpine@sha256:…`. */
export const REPO_DIGESTS_ANNOTATION = 'io.lade.image.repo-digests';
/** When the name was last given to the image (docker's Metadata.LastTagTime), RFC 3339. */
export const TAGGED_ANNOTATION = 'io.lade.image.tagged';
/** When the image entered the store (pull, load, copy), RFC 3339. */
export const PULLED_ANNOTATION = 'io.lade.image.pulled';
/** Cached image ID (config digest) of the entry, so listing needs no blob reads. */
export const ID_ANNOTATION = 'io.lade.image.id';
/** Cached size (config + layers, bytes) of the entry. */
export const SIZE_ANNOTATION = 'io.lade.image.size';
/** Cached creation time (from the config) of the entry. */
export const CREATED_ANNOTATION = 'io.lade.image.created';
/** Cached config labels of the entry, as a JSON object (absent when there are none). */
export const LABELS_ANNOTATION = 'io.lade.image.labels';

const NONE = '<none>';
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The store's root: `$LADE_HOME`, else `$XDG_DATA_HOME/lade`, else `~/.local/share/lade`. */
export function defaultStoreRoot(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.LADE_HOME) return env.LADE_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'lade');
  return join(homedir(), '.local', 'share', 'lade');
}

/** One row of `lade images`: an image under one of its names (or `<none>`). */
export interface ImageRow {
  /** Familiar repository (`alpine`, `127.0.0.1:5000/app`) or `<none>`. */
  readonly repository: string;
  /** The tag or `<none>`. */
  readonly tag: string;
  /** The full normalized name of this row (`docker.io/library/alpine:3.19`), when tagged. */
  readonly name?: string;
  /** The image ID: digest of the config. */
  readonly imageId: Digest;
  /** The digest of the manifest (or index) the store keeps for the image. */
  readonly manifestDigest: Digest;
  readonly mediaType: string;
  /** The registry digest of this repository (docker's DIGEST column), when the image was pulled by it. */
  readonly digest?: Digest;
  /** Every familiar `name:tag` of the image. */
  readonly repoTags: readonly string[];
  /** Every familiar `name@digest` of the image. */
  readonly repoDigests: readonly string[];
  /** Creation time from the config (RFC 3339), when it has one. */
  readonly created?: string;
  /** Bytes of the config and the layers (as stored, compressed). */
  readonly size: number;
  readonly labels: Readonly<Record<string, string>>;
  /** True when the image has no tag (`<none>:<none>`, or `repo:<none>` when it has a repo digest). */
  readonly dangling: boolean;
}

/** docker's `images --filter`s. Several references are OR-ed, several labels AND-ed. */
export interface ImageFilters {
  readonly dangling?: boolean;
  /** Images created before this one (name or ID). */
  readonly before?: string;
  /** Images created after this one (name or ID). */
  readonly since?: string;
  /** Globs over familiar names (`alpine`, `alp*:3.*`, `user/*`), as docker matches them. */
  readonly reference?: string | readonly string[];
  /** `key` or `key=value`. */
  readonly label?: string | readonly string[];
}

/** Options of {@link ImageStore.listImages}. */
export interface ListImagesOptions {
  /** docker's `-a`; the store has no intermediate images, so it changes nothing but is accepted. */
  readonly all?: boolean;
  readonly filters?: ImageFilters;
}

/** What {@link ImageStore.resolve} found. */
export interface ResolvedImage {
  readonly imageId: Digest;
  /** The root descriptor (manifest or index) the name or ID stands for. */
  readonly root: Descriptor;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  /** How the input matched: a tag, a `name@digest`, or an image ID (prefix). */
  readonly matchedBy: 'tag' | 'digest' | 'id';
  /** The normalized name when matched by tag or digest. */
  readonly name?: ImageName;
}

/** One line of `rmi` / `image prune` output, in docker's API shape (`Untagged: …`, `Deleted: sha256:…`). */
export type RemoveEvent = { readonly Untagged: string } | { readonly Deleted: string };

/** Options of {@link ImageStore.remove}. */
export interface RemoveOptions {
  /** Remove an image referenced by several names when given by ID (docker's `-f`). */
  readonly force?: boolean;
}

/** Options of {@link ImageStore.prune}: docker's `image prune [-a] [--filter until=…] [--filter label=…]`. */
export interface PruneOptions {
  /** Every image, not only dangling ones. */
  readonly all?: boolean;
  readonly filters?: {
    /** Only images created before this time (a Date or epoch milliseconds). */
    readonly until?: Date | number;
    /** `key`, `key=value`, `key!=value` or `!key` (docker's `label` / `label!`); all must hold. */
    readonly label?: string | readonly string[];
  };
}

/** Result of {@link ImageStore.prune}. */
export interface PruneResult {
  readonly deleted: readonly RemoveEvent[];
  readonly reclaimedBytes: number;
}

/** docker inspect's shape for an image. */
export interface ImageInspect {
  readonly Id: Digest;
  readonly RepoTags: readonly string[];
  readonly RepoDigests: readonly string[];
  readonly Parent: string;
  readonly Comment: string;
  readonly Created: string;
  readonly DockerVersion: string;
  readonly Author: string;
  readonly Config: ContainerConfig;
  readonly Architecture: string;
  readonly Variant?: string;
  readonly Os: string;
  readonly OsVersion?: string;
  readonly Size: number;
  readonly RootFS: { readonly Type: 'layers'; readonly Layers: readonly Digest[] };
  readonly Metadata: { readonly LastTagTime: string };
  /** The manifest (or index) the store keeps: docker 25+ shows it for the containerd store. */
  readonly Descriptor: Descriptor;
}

/** One row of `lade history`, newest first. */
export interface HistoryRow {
  /** The image ID for the top row, `<missing>` for the others (as docker prints it). */
  readonly id: string;
  readonly created?: string;
  readonly createdBy: string;
  /** Bytes of the layer the step made (as stored), 0 for empty layers. */
  readonly size: number;
  readonly comment: string;
  readonly emptyLayer: boolean;
  /** The image's tags, on the top row. */
  readonly tags: readonly string[];
}

/** One image of `system df -v`. */
export interface DfImage {
  readonly repository: string;
  readonly tag: string;
  readonly imageId: Digest;
  readonly created?: string;
  readonly size: number;
  /** Bytes of blobs this image shares with other images. */
  readonly sharedSize: number;
  readonly uniqueSize: number;
  readonly containers: number;
}

/** `system df`: what the store holds and what could be reclaimed. */
export interface DfReport {
  readonly images: {
    readonly total: number;
    /** Images used by containers: lade runs none, so always 0. */
    readonly active: number;
    /** Bytes of every blob the images reference, shared blobs counted once. */
    readonly size: number;
    /** What `image prune -a` would free (everything, without containers). */
    readonly reclaimable: number;
  };
  readonly rows: readonly DfImage[];
  /** Blobs no image references, and temp files: what `gc` would free. */
  readonly garbage: { readonly blobs: number; readonly bytes: number };
  readonly blobs: { readonly count: number; readonly bytes: number };
}

/** Options of {@link ImageStore.sink}. */
export interface StoreSinkOptions {
  /** The digest the image has in its registry (an index's when one platform was pulled), recorded as a RepoDigest. */
  readonly repoDigest?: Digest | string;
}

/** Options of {@link ImageStore.open}. */
export interface OpenStoreOptions extends Pick<OpenLayoutOptions, 'fsync'> {
  /** How long writers wait for the store's lock (default 60 s). */
  readonly lockTimeoutMs?: number;
  /** The platform whose manifest represents an index in listings (default: this machine's). */
  readonly platform?: Platform;
}

interface Entry {
  readonly descriptor: Descriptor;
  readonly refName?: string;
  readonly name?: ImageName;
  readonly repoDigests: readonly string[];
  readonly taggedAt?: string;
}

interface Summary {
  readonly imageId: Digest;
  readonly size: number;
  readonly created?: string;
  readonly labels: Readonly<Record<string, string>>;
}

interface ImageDetails extends Summary {
  readonly root: ParsedManifest;
  readonly manifest: ParsedImageManifest;
  readonly config: ParsedImageConfig;
}

interface ImageGroup {
  readonly imageId: Digest;
  readonly summary: Summary;
  readonly entries: Entry[];
}

function splitList(s: string | undefined): string[] {
  return s ? s.split(',').filter((x) => x !== '') : [];
}

function uniq<T>(xs: Iterable<T>): T[] {
  return [...new Set(xs)];
}

function readEntry(d: Descriptor): Entry {
  const a = d.annotations ?? {};
  const refName = a[REF_NAME_ANNOTATION];
  const full = a[NAME_ANNOTATION];
  // ref.name is the name. lade's full-name annotation only confirms it: tools that copy an entry (umoci tag) or drop
  // its ref.name (skopeo, when the name moves to another image) leave lade's annotations behind unchanged.
  let name: ImageName | undefined;
  if (refName !== undefined) {
    const annotated = full !== undefined ? tryParseImageName(full) : undefined;
    name = annotated !== undefined && annotated.familiar === refName ? annotated : tryParseImageName(refName);
  }
  return {
    descriptor: d,
    ...(refName !== undefined ? { refName } : {}),
    ...(name?.tag !== undefined ? { name } : {}),
    repoDigests: splitList(a[REPO_DIGESTS_ANNOTATION]).filter((r) => tryParseImageName(r)?.digest !== undefined),
    ...(a[TAGGED_ANNOTATION] !== undefined ? { taggedAt: a[TAGGED_ANNOTATION] } : {}),
  };
}

function summaryFromAnnotations(d: Descriptor): Summary | undefined {
  const a = d.annotations;
  const id = a?.[ID_ANNOTATION];
  const size = a?.[SIZE_ANNOTATION];
  if (!id || !isDigest(id) || size === undefined || !/^\d+$/.test(size)) return undefined;
  const created = a?.[CREATED_ANNOTATION];
  let labels: Record<string, string> = {};
  const rawLabels = a?.[LABELS_ANNOTATION];
  if (rawLabels !== undefined) {
    try {
      const parsed = JSON.parse(rawLabels) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      labels = parsed as Record<string, string>;
    } catch {
      return undefined;
    }
  }
  return { imageId: id, size: Number(size), ...(created ? { created } : {}), labels };
}

function summaryAnnotations(s: Summary): Record<string, string> {
  return {
    [ID_ANNOTATION]: s.imageId,
    [SIZE_ANNOTATION]: String(s.size),
    ...(s.created ? { [CREATED_ANNOTATION]: s.created } : {}),
    ...(Object.keys(s.labels).length > 0 ? { [LABELS_ANNOTATION]: JSON.stringify(s.labels) } : {}),
  };
}

/** docker's path.Match over familiar names: `*` and `?` stop at `/`, `[...]` classes, `\` escapes. */
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close === -1) re += '\\[';
      else {
        let cls = pattern.slice(i + 1, close);
        if (cls.startsWith('^')) cls = `!${cls.slice(1)}`;
        re += cls.startsWith('!') ? `[^${cls.slice(1).replace(/\\/g, '\\\\')}]` : `[${cls.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** docker's label filters: `key`, `key=value`, and the negations `key!=value`, `!key`. */
function labelMatchers(
  filters: string | readonly string[] | undefined,
): ((labels: Readonly<Record<string, string>>) => boolean)[] {
  const list = typeof filters === 'string' ? [filters] : (filters ?? []);
  return list.map((f) => {
    if (f.startsWith('!')) {
      const key = f.slice(1);
      return (l) => !(key in l);
    }
    const ne = f.indexOf('!=');
    if (ne !== -1) {
      const key = f.slice(0, ne);
      const value = f.slice(ne + 2);
      return (l) => l[key] !== value;
    }
    const eq = f.indexOf('=');
    if (eq === -1) return (l) => f in l;
    const key = f.slice(0, eq);
    const value = f.slice(eq + 1);
    return (l) => l[key] === value;
  });
}

function timeMs(s: string | undefined): number {
  if (!s) return 0;
  const t = Date.parse(s);
  return Number.isNaN(t) ? 0 : t;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** docker's rule for deleting by ID without -f: one tag (plus digests of that same repository) at most. */
function isSingleReference(tags: readonly ImageName[], digests: readonly ImageName[]): boolean {
  if (tags.length + digests.length <= 1) return true;
  if (tags.length > 1) return false;
  const repo = (tags[0] ?? digests[0])!.repository;
  return [...tags, ...digests].every((n) => n.repository === repo);
}

/**
 * The local image store: an OCI image layout under a root directory (`oci-layout`, `index.json`, `blobs/sha256/…`),
 * readable as it is by `skopeo … oci:ROOT:NAME` and `umoci ls --layout ROOT`.
 *
 * Each name is one index.json entry: `org.opencontainers.image.ref.name` is the familiar name docker prints
 * (`alpine:3.19`, `user/app:1`, `127.0.0.1:5000/app:latest`), so `skopeo inspect oci:$LADE_HOME:alpine:3.19` works;
 * `io.lade.image.name` holds the full normalized name. An image whose tag moved to another image stays as an entry
 * without names: the `<none>:<none>` (dangling) image.
 *
 * @example
 * const store = await ImageStore.open();
 * await copy(registrySource, store.sink('alpine:3.19', { repoDigest }), {});
 * for (const row of await store.listImages()) console.log(row.repository, row.tag, row.imageId);
 */
export class ImageStore {
  readonly root: string;
  readonly layout: OciLayout;
  readonly #lock: LockOptions;
  readonly #platform: Platform;
  readonly #details = new Map<Digest, Promise<ImageDetails>>();

  private constructor(layout: OciLayout, options: OpenStoreOptions) {
    this.root = layout.dir;
    this.layout = layout;
    this.#lock = { timeoutMs: options.lockTimeoutMs ?? 60_000, purpose: 'lade image store' };
    this.#platform = options.platform ?? hostPlatform();
  }

  /** Opens the store at `root` (default {@link defaultStoreRoot}), creating an empty layout when there is none. */
  static async open(root: string = defaultStoreRoot(), options: OpenStoreOptions = {}): Promise<ImageStore> {
    const existing = await readdir(root).catch(() => [] as string[]);
    if (existing.length > 0 && !existing.includes('oci-layout') && !existing.includes('index.json')) {
      throw new LayoutInvalidError(
        `${root} is neither empty nor an OCI image layout; give the store its own directory (--root or $LADE_HOME)`,
      );
    }
    const layout = await OciLayout.open(root, {
      create: true,
      ...(options.fsync !== undefined ? { fsync: options.fsync } : {}),
    });
    return new ImageStore(layout, options);
  }

  /** The store's blobs (content-addressed, verified on ingest). */
  get blobs(): FsBlobStore {
    return this.layout.blobs;
  }

  // ---- reading ----

  async #loadDetails(root: Descriptor): Promise<ImageDetails> {
    let p = this.#details.get(root.digest);
    if (!p) {
      p = this.#computeDetails(root);
      this.#details.set(root.digest, p);
      p.catch(() => this.#details.delete(root.digest));
    }
    return p;
  }

  async #computeDetails(root: Descriptor): Promise<ImageDetails> {
    const parsedRoot = await this.layout.readManifest(root);
    let manifest: ParsedImageManifest;
    if (parsedRoot.kind === 'index') {
      const present: Descriptor[] = [];
      for (const c of parsedRoot.index.manifests) if (await this.blobs.has(c.digest)) present.push(c);
      let chosen: Descriptor | undefined;
      try {
        chosen = selectManifest({ manifests: present }, this.#platform);
      } catch {
        chosen = present.find((c) => !c.mediaType.includes('index'));
      }
      if (!chosen)
        throw new ManifestInvalidError(
          `index ${root.digest} has none of its manifests in the store; pull the image again`,
        );
      const child = await this.layout.readManifest(chosen);
      if (child.kind !== 'manifest')
        throw new ManifestInvalidError(`index ${root.digest}: nested indexes are not supported as images`);
      manifest = child;
    } else {
      manifest = parsedRoot;
    }
    const config = await this.layout.readConfig(manifest.manifest.config);
    const size = manifest.manifest.config.size + manifest.manifest.layers.reduce((n, l) => n + l.size, 0);
    const created = config.config.created;
    const labels = { ...(config.config.config?.Labels ?? {}) };
    return {
      root: parsedRoot,
      manifest,
      config,
      imageId: config.digest,
      size,
      ...(created ? { created } : {}),
      labels,
    };
  }

  async #summary(d: Descriptor): Promise<Summary> {
    return summaryFromAnnotations(d) ?? (await this.#loadDetails(d));
  }

  async #groups(index: OciIndexFile): Promise<ImageGroup[]> {
    const entries = index.manifests.map(readEntry);
    const summaries = await mapLimit(entries, 32, async (e) => {
      try {
        return await this.#summary(e.descriptor);
      } catch {
        // Unreadable entries (missing or corrupt blobs) are fsck's to report; listings skip them.
        return undefined;
      }
    });
    const byId = new Map<Digest, ImageGroup>();
    entries.forEach((e, i) => {
      const s = summaries[i];
      if (!s) return;
      let g = byId.get(s.imageId);
      if (!g) {
        g = { imageId: s.imageId, summary: s, entries: [] };
        byId.set(s.imageId, g);
      }
      g.entries.push(e);
    });
    return [...byId.values()];
  }

  #tagsOf(g: ImageGroup): ImageName[] {
    const seen = new Map<string, ImageName>();
    for (const e of g.entries) if (e.name?.tag !== undefined) seen.set(e.name.full, e.name);
    return [...seen.values()];
  }

  #digestsOf(g: ImageGroup): ImageName[] {
    const seen = new Map<string, ImageName>();
    for (const e of g.entries)
      for (const r of e.repoDigests) {
        const n = tryParseImageName(r);
        if (n) seen.set(n.full, n);
      }
    return [...seen.values()];
  }

  #resolveIn(
    groups: readonly ImageGroup[],
    input: string,
  ): { group: ImageGroup; entry: Entry; matchedBy: ResolvedImage['matchedBy']; name?: ImageName } {
    const byId = (hex: string, full: boolean): { group: ImageGroup; entry: Entry } | undefined => {
      const hits = groups.filter((g) => (full ? digestHex(g.imageId) === hex : digestHex(g.imageId).startsWith(hex)));
      if (hits.length > 1) {
        const ids = hits.map((g) => g.imageId).sort();
        throw new AmbiguousImageError(
          `ID prefix "${input}" matches ${hits.length} images: ${ids.map((i) => digestHex(i).slice(0, 12)).join(', ')}; give more digits`,
          ids,
        );
      }
      const g = hits[0];
      return g ? { group: g, entry: g.entries[0]! } : undefined;
    };
    if (input.startsWith('sha256:') && isImageIdPrefix(input)) {
      const id = parseImageId(input);
      const hit = byId(id.hex, id.full) ?? (id.full ? this.#byManifestDigest(groups, id.digest as Digest) : undefined);
      if (hit) return { ...hit, matchedBy: 'id' };
      throw new ImageUnknownError(`No such image: ${input}`);
    }
    // A name first, as docker does; then an ID prefix (`abc123` may be either).
    const name = tryParseImageName(input);
    // An exact ref.name written by another tool (skopeo, umoci) that is no docker name.
    const raw = groups.flatMap((g) =>
      g.entries.filter((e) => e.refName === input && !e.name).map((entry) => ({ group: g, entry })),
    )[0];
    if (raw) return { ...raw, matchedBy: 'tag' };
    if (name) {
      if (name.tag !== undefined) {
        for (const g of groups) {
          const e = g.entries.find((x) => x.name?.full === `${name.repository}:${name.tag}`);
          if (
            e &&
            (name.digest === undefined ||
              e.descriptor.digest === name.digest ||
              this.#digestsOf(g).some((d) => d.digest === name.digest))
          ) {
            return { group: g, entry: e, matchedBy: 'tag', name };
          }
        }
      } else if (name.digest !== undefined) {
        for (const g of groups) {
          if (this.#digestsOf(g).some((d) => d.full === name.full))
            return { group: g, entry: g.entries[0]!, matchedBy: 'digest', name };
        }
        for (const g of groups) {
          // Pulled under another name, or copied in without a repo digest: the manifest digest itself.
          const e = g.entries.find(
            (x) => x.descriptor.digest === name.digest && (x.name?.repository === name.repository || !x.name),
          );
          if (e) return { group: g, entry: e, matchedBy: 'digest', name };
        }
      }
    }
    if (isImageIdPrefix(input)) {
      const id = parseImageId(input);
      const hit = byId(id.hex, id.full);
      if (hit) return { ...hit, matchedBy: 'id' };
    }
    if (!name && !isImageIdPrefix(input)) {
      throw new NameInvalidError(`invalid reference format: "${input}" is neither an image name nor an image ID`, {
        detail: { input },
      });
    }
    throw new ImageUnknownError(`No such image: ${input}`, { detail: { input } });
  }

  #byManifestDigest(groups: readonly ImageGroup[], digest: Digest): { group: ImageGroup; entry: Entry } | undefined {
    for (const g of groups) {
      const e = g.entries.find((x) => x.descriptor.digest === digest);
      if (e) return { group: g, entry: e };
    }
    return undefined;
  }

  /**
   * Finds an image by name (`alpine`, `alpine:3.19`, `alpine@sha256:…`, normalized as docker does) or by image ID
   * (`sha256:…`, full hex or a prefix). Throws IMAGE_UNKNOWN when nothing matches, AMBIGUOUS (with the candidates)
   * when an ID prefix matches several images, NAME_INVALID for text that is neither.
   */
  async resolve(nameOrId: string): Promise<ResolvedImage> {
    const groups = await this.#groups(await this.layout.readIndex());
    const hit = this.#resolveIn(groups, nameOrId);
    return this.#resolved(hit.group, hit.entry, hit.matchedBy, hit.name);
  }

  #resolved(g: ImageGroup, e: Entry, matchedBy: ResolvedImage['matchedBy'], name?: ImageName): ResolvedImage {
    return {
      imageId: g.imageId,
      root: plainDescriptor(e.descriptor),
      repoTags: this.#tagsOf(g).map((n) => n.familiar),
      repoDigests: this.#digestsOf(g).map((n) => n.familiar),
      matchedBy,
      ...(name ? { name } : {}),
    };
  }

  /** Every image as `lade images` lists it: one row per tag (or one `<none>` row), newest first. */
  async listImages(options: ListImagesOptions = {}): Promise<ImageRow[]> {
    const groups = await this.#groups(await this.layout.readIndex());
    const f = options.filters ?? {};
    const created = (g: ImageGroup): number => timeMs(g.summary.created);
    const before = f.before !== undefined ? this.#resolveIn(groups, f.before).group : undefined;
    const since = f.since !== undefined ? this.#resolveIn(groups, f.since).group : undefined;
    const refGlobs = (typeof f.reference === 'string' ? [f.reference] : (f.reference ?? [])).map(globRegExp);
    const labelFilters = (typeof f.label === 'string' ? [f.label] : (f.label ?? [])).map((l) => {
      const eq = l.indexOf('=');
      return eq === -1 ? { key: l } : { key: l.slice(0, eq), value: l.slice(eq + 1) };
    });
    const rows: ImageRow[] = [];
    for (const g of groups) {
      if (before && !(created(g) < created(before))) continue;
      if (since && !(created(g) > created(since))) continue;
      const lbl = g.summary.labels;
      if (!labelFilters.every((l) => (l.value === undefined ? l.key in lbl : lbl[l.key] === l.value))) continue;
      const tags = this.#tagsOf(g);
      const digests = this.#digestsOf(g);
      const dangling = tags.length === 0;
      if (f.dangling !== undefined && f.dangling !== dangling) continue;
      const base = {
        imageId: g.imageId,
        manifestDigest: g.entries[0]!.descriptor.digest,
        mediaType: g.entries[0]!.descriptor.mediaType,
        repoTags: tags.map((t) => t.familiar),
        repoDigests: digests.map((d) => d.familiar),
        ...(g.summary.created ? { created: g.summary.created } : {}),
        size: g.summary.size,
        labels: lbl,
        dangling,
      };
      const digestFor = (repo: string): { digest?: Digest } => {
        const d = digests.find((x) => x.repository === repo)?.digest;
        return d ? { digest: d } : {};
      };
      const matches = (n: ImageName): boolean =>
        refGlobs.length === 0 ||
        refGlobs.some(
          (re) =>
            re.test(n.tag !== undefined ? `${n.familiarRepository}:${n.tag}` : n.familiar) ||
            re.test(n.familiarRepository),
        );
      if (tags.length > 0) {
        for (const t of tags) {
          if (!matches(t)) continue;
          rows.push({
            ...base,
            repository: t.familiarRepository,
            tag: t.tag ?? NONE,
            name: t.full,
            ...digestFor(t.repository),
          });
        }
      } else if (digests.length > 0) {
        const repos = uniq(digests.map((d) => d.repository));
        for (const r of repos) {
          const n = digests.find((d) => d.repository === r)!;
          if (!matches(n)) continue;
          rows.push({ ...base, repository: n.familiarRepository, tag: NONE, ...digestFor(r) });
        }
      } else if (refGlobs.length === 0) {
        rows.push({ ...base, repository: NONE, tag: NONE });
      }
    }
    rows.sort(
      (a, b) =>
        timeMs(b.created) - timeMs(a.created) || a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag),
    );
    return rows;
  }

  /** docker inspect's view of an image. */
  async inspect(nameOrId: string): Promise<ImageInspect> {
    const index = await this.layout.readIndex();
    const groups = await this.#groups(index);
    const { group, entry } = this.#resolveIn(groups, nameOrId);
    const d = await this.#loadDetails(entry.descriptor);
    const c = d.config.config;
    const lastTag = group.entries
      .map((e) => e.taggedAt)
      .filter((t): t is string => t !== undefined)
      .sort()
      .at(-1);
    return {
      Id: d.imageId,
      RepoTags: this.#tagsOf(group).map((n) => n.familiar),
      RepoDigests: this.#digestsOf(group).map((n) => n.familiar),
      Parent: '',
      Comment: typeof c.comment === 'string' ? c.comment : '',
      Created: c.created ?? ZERO_TIME,
      DockerVersion: typeof c.docker_version === 'string' ? c.docker_version : '',
      Author: c.author ?? '',
      Config: c.config ?? {},
      Architecture: c.architecture,
      ...(c.variant ? { Variant: c.variant } : {}),
      Os: c.os,
      ...(c['os.version'] ? { OsVersion: c['os.version'] } : {}),
      Size: d.size,
      RootFS: { Type: 'layers', Layers: [...c.rootfs.diff_ids] },
      Metadata: { LastTagTime: lastTag ?? ZERO_TIME },
      Descriptor: plainDescriptor(entry.descriptor),
    };
  }

  /** The image's build history, newest step first, as `docker history` shows it. */
  async history(nameOrId: string): Promise<HistoryRow[]> {
    const groups = await this.#groups(await this.layout.readIndex());
    const { group, entry } = this.#resolveIn(groups, nameOrId);
    const d = await this.#loadDetails(entry.descriptor);
    const layers = d.manifest.manifest.layers;
    const hist = d.config.config.history ?? [];
    const rows: Omit<HistoryRow, 'id' | 'tags'>[] = [];
    let li = 0;
    for (const h of hist) {
      const empty = h.empty_layer === true;
      const size = empty ? 0 : (layers[li]?.size ?? 0);
      if (!empty) li++;
      rows.push({
        ...(h.created ? { created: h.created } : {}),
        createdBy: h.created_by ?? '',
        size,
        comment: h.comment ?? '',
        emptyLayer: empty,
      });
    }
    // Layers the history does not account for (configs without history): one row each, as docker does.
    for (; li < layers.length; li++)
      rows.push({ createdBy: '', size: layers[li]!.size, comment: '', emptyLayer: false });
    rows.reverse();
    const tags = this.#tagsOf(group).map((n) => n.familiar);
    return rows.map((r, i) => ({ ...r, id: i === 0 ? d.imageId : '<missing>', tags: i === 0 ? tags : [] }));
  }

  /** `system df`: image count and sizes, shared blobs counted once, and what GC could free. */
  async df(): Promise<DfReport> {
    const groups = await this.#groups(await this.layout.readIndex());
    const blobsOf = new Map<Digest, Set<Digest>>();
    const sizes = new Map<Digest, number>();
    await mapLimit(groups, 16, async (g) => {
      const { reachable } = await reachableBlobs(
        this.layout,
        g.entries.map((e) => e.descriptor),
      );
      const present = new Set<Digest>();
      for (const b of reachable) {
        const info = await this.blobs.stat(b);
        if (!info) continue;
        present.add(b);
        sizes.set(b, info.size);
      }
      blobsOf.set(g.imageId, present);
    });
    const users = new Map<Digest, number>();
    for (const s of blobsOf.values()) for (const b of s) users.set(b, (users.get(b) ?? 0) + 1);
    let total = 0;
    for (const b of users.keys()) total += sizes.get(b) ?? 0;
    const rows: DfImage[] = groups.map((g) => {
      let shared = 0;
      let unique = 0;
      for (const b of blobsOf.get(g.imageId) ?? []) {
        const sz = sizes.get(b) ?? 0;
        if ((users.get(b) ?? 0) > 1) shared += sz;
        else unique += sz;
      }
      const t = this.#tagsOf(g)[0];
      return {
        repository: t?.familiarRepository ?? NONE,
        tag: t?.tag ?? NONE,
        imageId: g.imageId,
        ...(g.summary.created ? { created: g.summary.created } : {}),
        size: shared + unique,
        sharedSize: shared,
        uniqueSize: unique,
        containers: 0,
      };
    });
    let count = 0;
    let bytes = 0;
    let garbageBlobs = 0;
    let garbageBytes = 0;
    for await (const b of this.blobs.list()) {
      const info = await this.blobs.stat(b);
      if (!info) continue;
      count++;
      bytes += info.size;
      if (!users.has(b)) {
        garbageBlobs++;
        garbageBytes += info.size;
      }
    }
    for (const t of await this.blobs.tempFiles()) garbageBytes += t.size;
    return {
      images: { total: groups.length, active: 0, size: total, reclaimable: total },
      rows,
      garbage: { blobs: garbageBlobs, bytes: garbageBytes },
      blobs: { count, bytes },
    };
  }

  // ---- transports ----

  /**
   * An ImageSink into the store for `reference` (`alpine:3.19`, or `name@digest`), or with no reference for an
   * unnamed image (`docker load` of an archive without RepoTags: listed as `<none>:<none>` unless already named).
   * Blobs land as copy writes them; the name is given only by `commit()`, after checking every blob is present, so a
   * failed copy leaves index.json unchanged. A tag that named another image leaves that image dangling
   * (`<none>:<none>`) unless it is still named otherwise.
   */
  sink(reference?: string, options: StoreSinkOptions = {}): ImageSink {
    const name = reference === undefined ? undefined : parseImageName(reference);
    if (options.repoDigest !== undefined && name === undefined && !options.repoDigest.includes('@')) {
      throw new NameInvalidError(
        `repo digest "${options.repoDigest}" needs a repository (name@digest) when the image has no name`,
      );
    }
    const repoDigest = options.repoDigest !== undefined ? this.#repoDigestRef(name, options.repoDigest) : undefined;
    return new LayoutImageSink(this.layout, name?.familiar ?? 'lade store (unnamed)', async (root, commitOptions) => {
      await this.layout.updateIndex(
        async (index) => {
          await checkComplete(this.layout, root.parsed);
          const summary = await this.#loadDetails(root.descriptor);
          const now = new Date().toISOString();
          const digests = uniq([
            ...(repoDigest ? [repoDigest] : []),
            ...(name?.digest !== undefined ? [`${name.repository}@${name.digest}`] : []),
          ]);
          const next = this.#applyName(index, root, name?.tag !== undefined ? name : undefined, summary, digests, {
            [PULLED_ANNOTATION]: now,
          });
          return { index: next, result: undefined };
        },
        commitOptions.signal ? { ...this.#lock, signal: commitOptions.signal } : this.#lock,
      );
    });
  }

  #repoDigestRef(name: ImageName | undefined, digest: string): string {
    if (isDigest(digest) && name) return `${name.repository}@${digest}`;
    const n = parseImageName(digest);
    if (n.digest === undefined)
      throw new NameInvalidError(`repo digest "${digest}" is neither a digest nor a name@digest`);
    return `${n.repository}@${n.digest}`;
  }

  /**
   * An ImageSource over an image of the store, by name or ID. It is resolved when copy asks (`resolve()`), so a
   * missing image fails there with IMAGE_UNKNOWN.
   */
  source(nameOrId: string): ImageSource {
    return new LayoutImageSource(this.layout, nameOrId, async () => (await this.resolve(nameOrId)).root);
  }

  // ---- naming ----

  /**
   * Names `root` (an entry's content) `name` in `index`: the name leaves any other image (which turns dangling if
   * it has no other name), untagged entries of the same content merge into the new one, repo digests are unioned.
   */
  #applyName(
    index: OciIndexFile,
    root: PendingRoot | { descriptor: Descriptor },
    name: ImageName | undefined,
    summary: Summary,
    addDigests: readonly string[],
    extra: Record<string, string> = {},
  ): OciIndexFile {
    const entries = index.manifests.map(readEntry);
    const digestOf = (e: Entry): Digest => e.descriptor.digest;
    const rootDigest = root.descriptor.digest;
    const sameContent = entries.filter((e) => digestOf(e) === rootDigest);
    const repoDigests = uniq([...sameContent.flatMap((e) => e.repoDigests), ...addDigests]);
    const kept: Descriptor[] = [];
    const movedFrom: Entry[] = [];
    for (const e of entries) {
      if (name && e.name?.full === name.full) {
        if (digestOf(e) !== rootDigest) movedFrom.push(e);
        continue;
      }
      // Unnamed entries of this content are replaced by the new entry, their repo digests merged into it.
      if (digestOf(e) === rootDigest && !e.name && e.refName === undefined) continue;
      kept.push(e.descriptor);
    }
    const now = new Date().toISOString();
    const withDigests = (d: Descriptor): Descriptor => {
      if (digestOf(readEntry(d)) !== rootDigest || addDigests.length === 0) return d;
      const a: Record<string, string> = { ...(d.annotations ?? {}), [REPO_DIGESTS_ANNOTATION]: repoDigests.join(',') };
      return { ...d, annotations: a };
    };
    const out = kept.map(withDigests);
    const stillNamed = out.some((d) => d.digest === rootDigest && readEntry(d).name !== undefined);
    if (name || !stillNamed) {
      const annotations: Record<string, string> = {
        ...summaryAnnotations(summary),
        ...(repoDigests.length > 0 ? { [REPO_DIGESTS_ANNOTATION]: repoDigests.join(',') } : {}),
        ...extra,
        ...(name
          ? { [REF_NAME_ANNOTATION]: name.familiar, [NAME_ANNOTATION]: name.full, [TAGGED_ANNOTATION]: now }
          : {}),
      };
      out.push({ ...plainDescriptor(root.descriptor), annotations });
    }
    // Images the name moved away from: dangling when nothing else names their content.
    for (const e of movedFrom) {
      if (out.some((d) => d.digest === digestOf(e))) continue;
      out.push(this.#danglingEntry(e));
    }
    return { ...index, manifests: out };
  }

  #danglingEntry(e: Entry): Descriptor {
    const a = e.descriptor.annotations ?? {};
    const keep: Record<string, string> = {};
    for (const k of [
      REPO_DIGESTS_ANNOTATION,
      ID_ANNOTATION,
      SIZE_ANNOTATION,
      CREATED_ANNOTATION,
      LABELS_ANNOTATION,
      PULLED_ANNOTATION,
    ]) {
      if (a[k] !== undefined) keep[k] = a[k];
    }
    return { ...plainDescriptor(e.descriptor), ...(Object.keys(keep).length > 0 ? { annotations: keep } : {}) };
  }

  /** Gives the image `source` (name or ID) the name `target` (`docker tag`). `target` must be a tag, not a digest. */
  async tag(source: string, target: string): Promise<void> {
    const name = parseImageName(target);
    if (name.digest !== undefined)
      throw new NameInvalidError(`refusing to create a tag with a digest reference: "${target}"; give NAME:TAG`);
    await this.layout.updateIndex(async (index) => {
      const groups = await this.#groups(index);
      const { group, entry } = this.#resolveIn(groups, source);
      const digests = this.#digestsOf(group).map((d) => d.full);
      const next = this.#applyName(index, { descriptor: entry.descriptor }, name, group.summary, digests);
      return { index: next, result: undefined };
    }, this.#lock);
  }

  /** Removes one tag (`name:tag`); the image stays, dangling if that was its last tag. Returns the `Untagged` event. */
  async untag(name: string): Promise<RemoveEvent[]> {
    const n = parseImageName(name);
    return this.layout.updateIndex(async (index) => {
      const entries = index.manifests.map(readEntry);
      // Every entry of the name: a layout may hold it twice (lade's `app:1` and skopeo's `app`).
      const hits = entries.filter((e) => e.name?.full === n.full);
      const hit = hits[0];
      if (!hit || n.tag === undefined) throw new ImageUnknownError(`No such image: ${name}`);
      const gone = new Set(hits.map((e) => e.descriptor));
      const rest = index.manifests.filter((d) => !gone.has(d));
      for (const e of hits) if (!rest.some((d) => d.digest === e.descriptor.digest)) rest.push(this.#danglingEntry(e));
      return { index: { ...index, manifests: rest }, result: [{ Untagged: n.familiar }] };
    }, this.#lock);
  }

  /**
   * `docker rmi`: by name, untags it and deletes the image when no tag is left; by ID, deletes the image and all its
   * names, refusing (CONFLICT) an image referenced in several repositories unless `force`. Blobs no other image
   * uses are deleted at once. Returns docker's `Untagged:` / `Deleted:` events.
   */
  async remove(nameOrId: string, options: RemoveOptions = {}): Promise<RemoveEvent[]> {
    return this.layout.updateIndex(async (index) => {
      const groups = await this.#groups(index);
      const hit = this.#resolveIn(groups, nameOrId);
      const g = hit.group;
      const tags = this.#tagsOf(g);
      const digests = this.#digestsOf(g);
      const events: RemoveEvent[] = [];
      let manifests = [...index.manifests];
      const inGroup = new Set(g.entries.map((e) => e.descriptor));
      if (hit.matchedBy === 'tag') {
        const full = hit.entry.name?.full;
        const sameName = new Set(
          g.entries
            .filter((e) => e === hit.entry || (full !== undefined && e.name?.full === full))
            .map((e) => e.descriptor),
        );
        manifests = manifests.filter((d) => !sameName.has(d));
        events.push({ Untagged: hit.entry.name?.familiar ?? hit.entry.refName ?? nameOrId });
        const otherTags = tags.filter((t) => t.full !== full);
        if (otherTags.length > 0) return { index: { ...index, manifests }, result: events };
        for (const d of digests) events.push({ Untagged: d.familiar });
      } else if (hit.matchedBy === 'digest') {
        const target = hit.name!;
        const remaining = digests.filter((d) => d.full !== target.full);
        events.push({ Untagged: target.familiar });
        if (tags.length > 0 || remaining.length > 0) {
          manifests = manifests.map((d) => {
            if (!inGroup.has(d)) return d;
            const a: Record<string, string> = { ...(d.annotations ?? {}) };
            const left = splitList(a[REPO_DIGESTS_ANNOTATION]).filter(
              (r) => tryParseImageName(r)?.full !== target.full,
            );
            if (left.length > 0) a[REPO_DIGESTS_ANNOTATION] = left.join(',');
            else delete a[REPO_DIGESTS_ANNOTATION];
            return { ...d, annotations: a };
          });
          return { index: { ...index, manifests }, result: events };
        }
      } else {
        if (!options.force && !isSingleReference(tags, digests)) {
          throw new ImageConflictError(
            `conflict: unable to delete ${digestHex(g.imageId).slice(0, 12)} (must be forced) - image is referenced in multiple repositories`,
            { detail: { imageId: g.imageId, repoTags: tags.map((t) => t.familiar) } },
          );
        }
        for (const t of tags) events.push({ Untagged: t.familiar });
        for (const d of digests) events.push({ Untagged: d.familiar });
      }
      manifests = manifests.filter((d) => !inGroup.has(d));
      events.push({ Deleted: g.imageId });
      const next = { ...index, manifests };
      const afterWrite = async (): Promise<void> => {
        const swept = await this.#sweep(
          next,
          g.entries.map((e) => e.descriptor),
        );
        for (const b of swept) if (b.digest !== g.imageId) events.push({ Deleted: b.digest });
      };
      return { index: next, result: events, afterWrite };
    }, this.#lock);
  }

  /** Deletes the blobs of `roots` that `index` no longer reaches and no writer in progress protects. */
  async #sweep(index: OciIndexFile, roots: readonly Descriptor[]): Promise<BlobInfo[]> {
    const candidates = await reachableBlobs(this.layout, roots);
    const keep = await reachableBlobs(this.layout, index.manifests);
    // Another image's manifest is missing or unreadable: its blobs are unknown, so delete nothing (as GC does).
    if (keep.unknown.size > 0) return [];
    const leases = await scanLeases(this.root);
    const removed: BlobInfo[] = [];
    for (const d of candidates.reachable) {
      if (keep.reachable.has(d)) continue;
      const info = await this.blobs.stat(d);
      if (!info) continue;
      if (leases.protectSinceMs !== undefined) {
        const s = await stat(this.blobs.blobPath(d)).catch(() => undefined);
        if (!s || s.mtimeMs >= leases.protectSinceMs) continue;
      }
      if (await this.blobs.delete(d)) {
        removed.push(info);
        this.#details.delete(d);
      }
    }
    return removed;
  }

  /**
   * `docker image prune`: removes dangling images (no tag), or with `all` every image (lade runs no containers,
   * so no image is in use), narrowed by docker's prune filters, then collects garbage. `reclaimedBytes` counts every
   * blob deleted.
   */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const until = options.filters?.until;
    const untilMs = until === undefined ? undefined : until instanceof Date ? until.getTime() : until;
    const labels = labelMatchers(options.filters?.label);
    const events = await this.layout.updateIndex(async (index) => {
      const groups = await this.#groups(index);
      const events: RemoveEvent[] = [];
      const drop = new Set<Descriptor>();
      for (const g of groups) {
        const tags = this.#tagsOf(g);
        if (!options.all && tags.length > 0) continue;
        // docker: only images created before `until`; images without a creation time are never "before".
        if (untilMs !== undefined && !(timeMs(g.summary.created) > 0 && timeMs(g.summary.created) < untilMs)) continue;
        if (!labels.every((m) => m(g.summary.labels))) continue;
        for (const t of tags) events.push({ Untagged: t.familiar });
        for (const d of this.#digestsOf(g)) events.push({ Untagged: d.familiar });
        events.push({ Deleted: g.imageId });
        for (const e of g.entries) drop.add(e.descriptor);
      }
      if (drop.size === 0) return { result: events };
      return { index: { ...index, manifests: index.manifests.filter((d) => !drop.has(d)) }, result: events };
    }, this.#lock);
    const gc = await this.gc();
    const listed = new Set(events.map((e) => ('Deleted' in e ? e.Deleted : '')));
    for (const b of gc.removedBlobs) if (!listed.has(b.digest)) events.push({ Deleted: b.digest });
    return { deleted: events, reclaimedBytes: gc.reclaimedBytes };
  }

  /**
   * Mark and sweep: deletes blobs no index.json entry reaches (sparing those of writers in progress), abandoned
   * ingest files, stale leases and temp files of dead processes.
   */
  async gc(): Promise<GcReport> {
    const report = await this.layout.updateIndex(
      async (index) => ({ result: await collectGarbage(this.layout, index) }),
      this.#lock,
    );
    for (const b of report.removedBlobs) this.#details.delete(b.digest);
    return report;
  }

  /** Re-hashes every blob and checks that every referenced blob is present; garbage is reported, not an error. */
  async fsck(options: FsckOptions = {}): Promise<FsckReport> {
    return checkStore(this.layout, options);
  }
}
