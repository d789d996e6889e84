import { type Digest, digestAlgorithm, digestHex, parseDigest } from '@lade/digest';
import { buildIndex, type Descriptor, MediaType, parseImageIndex } from '@lade/manifest';
import { pushScope } from './auth.js';
import { ManifestUnknownError, NameUnknownError, RegistryProtocolError, type RequestSubject } from './errors.js';
import { nextLink, readText } from './http.js';
import type { Registry } from './registry.js';

/** Pagination of tag and catalog listings. */
export interface ListOptions {
  /** Page size asked of the registry (`n`). */
  readonly pageSize?: number;
  /** Start after this entry (`last`). */
  readonly last?: string;
  readonly signal?: AbortSignal;
}

/** `?n=&last=` of a listing. */
export function listQuery(options: ListOptions): string {
  const q = new URLSearchParams();
  if (options.pageSize !== undefined) q.set('n', String(options.pageSize));
  if (options.last !== undefined) q.set('last', options.last);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Follows `Link: <…>; rel="next"` through a paginated listing, yielding the `field` array of each page. */
export async function* paginate(
  registry: Registry,
  firstPath: string,
  field: 'tags' | 'repositories',
  scopes: readonly string[],
  subject: RequestSubject,
  signal?: AbortSignal,
): AsyncGenerator<string[]> {
  let path: string | undefined = firstPath;
  const seen = new Set<string>();
  while (path) {
    if (seen.has(path))
      throw new RegistryProtocolError(
        'UNKNOWN',
        `${registry.host}: the ${field} listing links back to a page it already sent`,
        subject,
      );
    seen.add(path);
    const res = await registry.request({ method: 'GET', path, scopes, subject, ...(signal ? { signal } : {}) });
    const text = await readText(res, 16 * 1024 * 1024);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new RegistryProtocolError('UNKNOWN', `${registry.host}: the ${field} listing is not JSON`, {
        ...subject,
        cause: e,
      });
    }
    const list = json[field];
    // distribution answers `"tags": null` for a repository whose tags were all deleted.
    yield Array.isArray(list) ? list.filter((t): t is string => typeof t === 'string') : [];
    const base = /^https?:/.test(path) ? path : `${await registry.baseUrl()}${path}`;
    path = nextLink(res.headers.get('link'), base);
  }
}

/** The `subject` digest of a manifest, when it has one. */
export function manifestSubject(bytes: Uint8Array): Digest | undefined {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as { subject?: { digest?: unknown } };
    const d = json.subject?.digest;
    return typeof d === 'string' ? parseDigest(d) : undefined;
  } catch {
    return undefined;
  }
}

/** `artifactType` and `annotations` of a manifest, as its entry in a referrers index carries them. */
export function referrerFields(bytes: Uint8Array): Pick<Descriptor, 'artifactType' | 'annotations'> {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as {
      artifactType?: unknown;
      config?: { mediaType?: unknown };
      annotations?: unknown;
    };
    const artifactType =
      typeof json.artifactType === 'string'
        ? json.artifactType
        : typeof json.config?.mediaType === 'string'
          ? json.config.mediaType
          : undefined;
    const annotations =
      typeof json.annotations === 'object' && json.annotations !== null
        ? (json.annotations as Record<string, string>)
        : undefined;
    return { ...(artifactType ? { artifactType } : {}), ...(annotations ? { annotations } : {}) };
  } catch {
    return {};
  }
}

/** The tag of the referrers fallback index of a digest: `sha256-<hex>`. */
export function referrersTag(digest: Digest | string): string {
  const d = parseDigest(digest);
  return `${digestAlgorithm(d)}-${digestHex(d)}`;
}

async function fallbackIndex(
  registry: Registry,
  repository: string,
  subject: Digest | string,
  signal?: AbortSignal,
): Promise<Descriptor[] | undefined> {
  try {
    const { bytes } = await registry.getManifest(repository, referrersTag(subject), signal ? { signal } : {});
    return [...parseImageIndex(bytes).index.manifests];
  } catch (e) {
    if (e instanceof ManifestUnknownError || e instanceof NameUnknownError) return undefined;
    throw e;
  }
}

/** The referrers of a digest: the referrers API, else the fallback tag. */
export async function listReferrers(
  registry: Registry,
  repository: string,
  digest: Digest | string,
  options: { artifactType?: string; signal?: AbortSignal } = {},
): Promise<Descriptor[]> {
  const q = options.artifactType ? `?artifactType=${encodeURIComponent(options.artifactType)}` : '';
  const subject: RequestSubject = { kind: 'referrers', host: registry.host, repository, reference: digest };
  const res = await registry.request({
    method: 'GET',
    path: `/v2/${repository}/referrers/${digest}${q}`,
    headers: { accept: MediaType.OCI_INDEX },
    scopes: [`repository:${repository}:pull`],
    allow: [404, 400, 405],
    subject,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const ct = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  let manifests: Descriptor[];
  if (res.status === 200 && ct === MediaType.OCI_INDEX) {
    const text = await readText(res, 4 * 1024 * 1024);
    manifests = [...parseImageIndex(new TextEncoder().encode(text)).index.manifests];
    // Registries that filtered say so; the others are filtered here.
    if (options.artifactType && res.headers.get('oci-filters-applied')?.includes('artifactType')) return manifests;
  } else {
    await readText(res);
    manifests = (await fallbackIndex(registry, repository, digest, options.signal)) ?? [];
  }
  return options.artifactType ? manifests.filter((m) => m.artifactType === options.artifactType) : manifests;
}

/** Adds a referrer to the fallback index `sha256-<hex>` of its subject (creating it), as the OCI spec asks of clients. */
export async function addReferrerFallback(
  registry: Registry,
  repository: string,
  subject: Digest,
  referrer: Descriptor,
  signal?: AbortSignal,
): Promise<void> {
  const existing = (await fallbackIndex(registry, repository, subject, signal)) ?? [];
  if (existing.some((m) => m.digest === referrer.digest)) return;
  const { bytes } = buildIndex({ manifests: [...existing, referrer] });
  const res = await registry.request({
    method: 'PUT',
    path: `/v2/${repository}/manifests/${referrersTag(subject)}`,
    headers: { 'content-type': MediaType.OCI_INDEX },
    body: bytes,
    scopes: [pushScope(repository)],
    subject: { kind: 'manifest', host: registry.host, repository, reference: referrersTag(subject) },
    ...(signal ? { signal } : {}),
  });
  await readText(res);
}
