import { type Digest, isDigest, isLadeError } from '@lade/digest';
import type { Access, Action } from './auth/access.js';
import { type Authenticator, type Grant, noAuth } from './auth/authenticator.js';
import { RegistryError } from './errors.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import { Metrics } from './metrics.js';
import { isRepositoryName, isTag, isUploadId, MAX_MANIFEST_SIZE, MediaTypes } from './names.js';
import type { PullThroughCache } from './proxy.js';
import { parseRange } from './range.js';
import { compareLexical, RegistryStore, readLimited } from './registry-store.js';
import type { StorageDriver } from './storage/driver.js';
import { MemoryDriver } from './storage/memory.js';

/** One line of the access log. */
export interface AccessLogEntry {
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
  readonly account?: string;
  readonly repository?: string;
  readonly error?: string;
  readonly remote?: string;
  readonly userAgent?: string;
}

/** CORS settings (off unless given). */
export interface CorsOptions {
  /** Allowed origins; `*` allows any. */
  readonly origins: readonly string[];
}

/** Options of {@link createRegistry}. */
export interface RegistryOptions {
  /** Where the registry keeps its data (default: a fresh in-memory driver). */
  readonly storage?: StorageDriver;
  /** Who may do what (default: anyone anything). */
  readonly auth?: Authenticator;
  /** Refuse every write with 405 UNSUPPORTED (maintenance mode). */
  readonly readOnly?: boolean;
  /** Allow deleting manifests, tags and blobs (default true). */
  readonly deleteEnabled?: boolean;
  /** Largest blob accepted, in bytes (default: unlimited). */
  readonly maxBlobSize?: number;
  /** Serve pulls of missing content from an upstream registry and keep what was fetched. */
  readonly proxy?: PullThroughCache;
  /** Receives one entry per request (structured access log); none by default. */
  readonly log?: (entry: AccessLogEntry) => void;
  /** CORS headers for browser clients; off by default. */
  readonly cors?: CorsOptions;
  /** Serve `/metrics` (default true). */
  readonly metrics?: boolean;
}

/** A registry: a web-standard fetch handler plus its store and maintenance operations. */
export interface Registry {
  /** Handles one HTTP request (Hono, Deno.serve, Bun, the Node adapter, …). */
  fetch(request: Request): Promise<Response>;
  /** The storage layout (for tools and tests). */
  readonly store: RegistryStore;
  readonly metrics: Metrics;
  /** Mark-and-sweep garbage collection of unreferenced blobs; safe while pushes run. */
  collectGarbage(options?: GcOptions): Promise<GcReport>;
  /** Releases the storage driver. */
  close(): Promise<void>;
  /** Internal: replies without building web Responses (the Node adapter's fast path). */
  readonly [rawHandler]?: (request: Request) => Promise<Reply | Response>;
}

const API_HEADERS = { 'Docker-Distribution-API-Version': 'registry/2.0', 'X-Content-Type-Options': 'nosniff' } as const;

/**
 * A response before it becomes a web Response: building `new Response(bytes)` costs a stream per request, so the
 * Node adapter takes replies as they are and writes bytes or files directly; `fetch()` converts them.
 */
export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | string | ReadableStream<Uint8Array> | null;
  /** The body is this local file range (the Node adapter sends it natively). */
  readonly file?: { readonly path: string; readonly start: number; readonly end: number };
}

/** The registry's internal handler returning {@link Reply} values (used by the Node adapter). */
export const rawHandler: unique symbol = Symbol('lade.registry.rawHandler');

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { ...API_HEADERS, ...extra };
}

function jsonResponse(status: number, body: unknown, extra: Record<string, string> = {}): Reply {
  const text = JSON.stringify(body);
  return {
    status,
    headers: headers({
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(text)),
      ...extra,
    }),
    body: text,
  };
}

function empty(status: number, extra: Record<string, string> = {}): Reply {
  return { status, headers: headers({ 'Content-Length': '0', ...extra }), body: null };
}

/** Converts a reply into a web Response. */
export function toResponse(reply: Reply | Response): Response {
  if (reply instanceof Response) return reply;
  return new Response(reply.body as BodyInit | null, { status: reply.status, headers: reply.headers });
}

/** The `{"errors":[…]}` response of an error. */
export function errorResponse(err: unknown, method = 'GET'): Response {
  return toResponse(errorReply(err, method));
}

function errorReply(err: unknown, method = 'GET'): Reply {
  let e: RegistryError;
  if (err instanceof RegistryError) e = err;
  else if (isLadeError(err) && (err.code === 'DIGEST_INVALID' || err.code === 'SIZE_INVALID'))
    e = new RegistryError(err.code, err.message);
  else e = new RegistryError('UNKNOWN', `internal error: ${(err as Error)?.message ?? String(err)}`, { status: 500 });
  const body = { errors: [{ code: e.code, message: e.message, detail: e.detail ?? null }] };
  if (method === 'HEAD') return empty(e.status, { ...e.headers, 'Content-Type': 'application/json' });
  return jsonResponse(e.status, body, e.headers);
}

function parseDigestParam(value: string | null, what: string): Digest {
  if (!value || !isDigest(value)) {
    throw new RegistryError('DIGEST_INVALID', `${what} "${value ?? ''}" is not a valid digest; use sha256:<64 hex>`);
  }
  return value;
}

/** Parses `Content-Range: start-end` (a `bytes ` or `bytes=` prefix is tolerated). */
function parseContentRange(value: string | null): { start: number; end: number } | undefined | 'invalid' {
  if (!value) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(value.trim());
  if (!m) return 'invalid';
  const start = Number(m[1]);
  const end = Number(m[2]);
  return end < start ? 'invalid' : { start, end };
}

function pageParams(url: URL): { n: number | undefined; last: string | undefined } {
  const nRaw = url.searchParams.get('n');
  let n: number | undefined;
  if (nRaw !== null && nRaw !== '') {
    if (!/^\d+$/.test(nRaw))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', `n="${nRaw}" is not a non-negative integer`);
    n = Number(nRaw);
  }
  return { n, last: url.searchParams.get('last') ?? undefined };
}

function paginate(
  all: readonly string[],
  n: number | undefined,
  last: string | undefined,
  linkBase: string,
): { items: string[]; link?: string } {
  let items = last ? all.filter((t) => compareLexical(t, last) > 0) : [...all];
  if (n === undefined) return { items };
  const more = items.length > n;
  items = items.slice(0, n);
  if (!more || items.length === 0) return { items };
  const next = `${linkBase}?n=${n}&last=${encodeURIComponent(items[items.length - 1]!)}`;
  return { items, link: `<${next}>; rel="next"` };
}

interface Route {
  readonly name: string;
  readonly repo?: string;
  readonly ref?: string;
}

const routes: readonly [RegExp, string][] = [
  [/^\/v2\/?$/, 'base'],
  [/^\/v2\/_catalog$/, 'catalog'],
  [/^\/v2\/(.+)\/manifests\/([^/]+)$/, 'manifest'],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, 'uploads'],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, 'upload'],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, 'blob'],
  [/^\/v2\/(.+)\/tags\/list$/, 'tags'],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, 'referrers'],
];

function matchRoute(pathname: string): Route | undefined {
  for (const [re, name] of routes) {
    const m = re.exec(pathname);
    if (!m) continue;
    return { name, ...(m[1] !== undefined ? { repo: m[1] } : {}), ...(m[2] !== undefined ? { ref: m[2] } : {}) };
  }
  return undefined;
}

function repoAccess(name: string, ...actions: Action[]): Access {
  return { type: 'repository', name, actions };
}

/**
 * Creates an OCI distribution registry as a fetch handler.
 *
 * @example
 * const registry = createRegistry({ storage: new FilesystemDriver('/var/lib/registry') });
 * Deno.serve((req) => registry.fetch(req));
 */
export function createRegistry(options: RegistryOptions = {}): Registry {
  const driver: StorageDriver = options.storage ?? new MemoryDriver();
  const store = new RegistryStore(
    driver,
    options.maxBlobSize !== undefined ? { maxBlobSize: options.maxBlobSize } : {},
  );
  const auth = options.auth ?? noAuth;
  const metrics = new Metrics();
  const deleteEnabled = options.deleteEnabled ?? true;
  const proxy = options.proxy;

  const refuseWrite = () => {
    if (options.readOnly)
      throw new RegistryError(
        'UNSUPPORTED',
        'the registry is in read-only mode; writes are refused until maintenance ends',
      );
    if (proxy)
      throw new RegistryError(
        'UNSUPPORTED',
        'this registry is a pull-through cache; push to the upstream registry instead',
      );
  };
  const refuseDelete = () => {
    refuseWrite();
    if (!deleteEnabled) throw new RegistryError('UNSUPPORTED', 'deletes are disabled on this registry');
  };

  async function handleManifest(
    request: Request,
    repo: string,
    ref: string,
    grantFor: (a: Access[]) => Promise<Grant>,
  ): Promise<Reply | Response> {
    const method = request.method;
    const byDigest = isDigest(ref);
    if (!byDigest && !isTag(ref)) {
      if (ref.includes(':')) throw new RegistryError('DIGEST_INVALID', `"${ref}" is neither a valid digest nor a tag`);
      throw new RegistryError('TAG_INVALID', `"${ref}" is not a valid tag; use [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
    }
    if (method === 'GET' || method === 'HEAD') {
      await grantFor([repoAccess(repo, 'pull')]);
      let m = await store.getManifest(repo, ref);
      if (proxy && (!m || !byDigest)) m = (await proxy.manifest(store, repo, ref, m)) ?? m;
      if (!m)
        throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${ref} is not in repository ${repo}`, {
          detail: { Name: repo, Revision: ref },
        });
      const h = {
        'Content-Type': m.mediaType,
        'Content-Length': String(m.bytes.byteLength),
        'Docker-Content-Digest': m.digest,
        ETag: `"${m.digest}"`,
      };
      if (method === 'HEAD') return empty(200, h);
      return { status: 200, headers: headers(h), body: m.bytes };
    }
    if (method === 'PUT') {
      await grantFor([repoAccess(repo, 'pull', 'push')]);
      refuseWrite();
      const declared = Number(request.headers.get('content-length') ?? '0');
      if (declared > MAX_MANIFEST_SIZE) {
        await request.body?.cancel().catch(() => {});
        throw new RegistryError(
          'SIZE_INVALID',
          `manifest of ${declared} bytes is larger than the ${MAX_MANIFEST_SIZE}-byte limit; it was refused`,
          { status: 413 },
        );
      }
      const bytes = await readLimited(request.body, MAX_MANIFEST_SIZE, 'manifest');
      const { digest, parsed } = await store.putManifest(
        repo,
        bytes,
        request.headers.get('content-type') ?? undefined,
        byDigest ? { digest: ref } : { tag: ref },
      );
      const h: Record<string, string> = {
        Location: `/v2/${repo}/manifests/${digest}`,
        'Docker-Content-Digest': digest,
      };
      if (parsed.subject) h['OCI-Subject'] = parsed.subject.digest;
      return empty(201, h);
    }
    if (method === 'DELETE') {
      await grantFor([repoAccess(repo, 'delete')]);
      refuseDelete();
      const ok = byDigest ? await store.deleteManifest(repo, ref) : await store.deleteTag(repo, ref);
      if (!ok)
        throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${ref} is not in repository ${repo}`, {
          detail: { Name: repo, Revision: ref },
        });
      return empty(202);
    }
    throw new RegistryError('UNSUPPORTED', `${method} is not supported on manifests`);
  }

  async function handleBlob(
    request: Request,
    repo: string,
    ref: string,
    grantFor: (a: Access[]) => Promise<Grant>,
  ): Promise<Reply | Response> {
    const method = request.method;
    const digest = parseDigestParam(ref, 'blob digest');
    if (method === 'GET' || method === 'HEAD') {
      await grantFor([repoAccess(repo, 'pull')]);
      let info = await store.repoBlob(repo, digest);
      if (!info && proxy) {
        const fetched = await proxy.blob(store, repo, digest, method, request.headers.get('range'));
        if (fetched) return fetched;
        info = await store.repoBlob(repo, digest);
      }
      if (!info)
        throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${repo}`, { detail: { digest } });
      const base = {
        'Content-Type': 'application/octet-stream',
        'Docker-Content-Digest': digest,
        'Accept-Ranges': 'bytes',
        ETag: `"${digest}"`,
        'Cache-Control': 'max-age=31536000',
      };
      const range = parseRange(request.headers.get('range'), info.size);
      if (range === 'unsatisfiable') {
        throw new RegistryError(
          'RANGE_INVALID',
          `range ${request.headers.get('range')} is outside blob ${digest} of ${info.size} bytes`,
          {
            status: 416,
            headers: { 'Content-Range': `bytes */${info.size}` },
          },
        );
      }
      const start = range?.start ?? 0;
      const end = range ? range.end + 1 : info.size;
      const h: Record<string, string> = { ...base, 'Content-Length': String(end - start) };
      if (range) h['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
      const status = range ? 206 : 200;
      if (method === 'HEAD') return empty(status, h);
      const local = store.localBlobPath(digest);
      if (local) {
        // Opened only when read, so the Node adapter can send the file natively without opening it twice.
        return {
          status,
          headers: headers(h),
          body: lazyStream(() => store.openBlob(digest, start, end)),
          file: { path: local, start, end },
        };
      }
      const body = await store.openBlob(digest, start, end);
      if (!body)
        throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${repo}`, { detail: { digest } });
      return { status, headers: headers(h), body };
    }
    if (method === 'DELETE') {
      await grantFor([repoAccess(repo, 'delete')]);
      refuseDelete();
      if (!(await store.unlinkBlob(repo, digest)))
        throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${repo}`, { detail: { digest } });
      return empty(202);
    }
    throw new RegistryError('UNSUPPORTED', `${method} is not supported on blobs`);
  }

  const uploadHeaders = (repo: string, id: string, size: number) => ({
    Location: `/v2/${repo}/blobs/uploads/${id}`,
    Range: `0-${Math.max(size - 1, 0)}`,
    'Docker-Upload-UUID': id,
  });

  async function handleUploads(
    request: Request,
    url: URL,
    repo: string,
    grantFor: (a: Access[]) => Promise<Grant>,
  ): Promise<Reply | Response> {
    if (request.method !== 'POST')
      throw new RegistryError('UNSUPPORTED', `${request.method} is not supported on the uploads endpoint; use POST`);
    const grant = await grantFor([repoAccess(repo, 'pull', 'push')]);
    refuseWrite();
    const mount = url.searchParams.get('mount');
    const from = url.searchParams.get('from');
    if (mount !== null) {
      const digest = parseDigestParam(mount, 'mount digest');
      if (
        from &&
        isRepositoryName(from) &&
        grant.can('repository', from, 'pull') &&
        (await store.repoBlob(from, digest))
      ) {
        await store.linkBlob(repo, digest);
        metrics.add('blob_mounts_total', 1);
        await request.body?.cancel().catch(() => {});
        return empty(201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      }
    }
    const digestParam = url.searchParams.get('digest');
    if (digestParam !== null && mount === null) {
      const digest = parseDigestParam(digestParam, 'digest');
      const id = await store.createUpload(repo);
      const location = `/v2/${repo}/blobs/uploads/${id}`;
      const result = await store.finishUpload(repo, id, digest, request.body, location);
      metrics.add('blob_upload_bytes_total', result.size);
      return empty(201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    }
    await request.body?.cancel().catch(() => {});
    const id = await store.createUpload(repo);
    metrics.add('blob_uploads_started_total', 1);
    return empty(202, uploadHeaders(repo, id, 0));
  }

  async function handleUpload(
    request: Request,
    url: URL,
    repo: string,
    id: string,
    grantFor: (a: Access[]) => Promise<Grant>,
  ): Promise<Reply | Response> {
    if (!isUploadId(id))
      throw new RegistryError('BLOB_UPLOAD_INVALID', `"${id}" is not an upload id issued by this registry`, {
        status: 404,
      });
    const method = request.method;
    await grantFor([repoAccess(repo, 'pull', 'push')]);
    const location = `/v2/${repo}/blobs/uploads/${id}`;
    if (method === 'GET') {
      const state = await store.uploadState(repo, id);
      if (!state)
        throw new RegistryError(
          'BLOB_UPLOAD_UNKNOWN',
          `upload ${id} does not exist or has expired; start a new upload`,
        );
      return empty(204, uploadHeaders(repo, id, state.size));
    }
    refuseWrite();
    const range = parseContentRange(request.headers.get('content-range'));
    if (range === 'invalid') {
      await request.body?.cancel().catch(() => {});
      throw new RegistryError(
        'BLOB_UPLOAD_INVALID',
        `Content-Range "${request.headers.get('content-range')}" is not start-end`,
        { status: 416 },
      );
    }
    if (method === 'PATCH') {
      const size = await store.appendUpload(repo, id, request.body, location, range);
      return empty(202, uploadHeaders(repo, id, size));
    }
    if (method === 'PUT') {
      const digest = parseDigestParam(url.searchParams.get('digest'), 'digest query parameter');
      const result = await store.finishUpload(repo, id, digest, request.body, location, range);
      metrics.add('blob_upload_bytes_total', result.size);
      return empty(201, { Location: `/v2/${repo}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    }
    if (method === 'DELETE') {
      if (!(await store.cancelUpload(repo, id)))
        throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} does not exist or has expired`);
      return empty(204);
    }
    throw new RegistryError('UNSUPPORTED', `${method} is not supported on an upload`);
  }

  async function handleTags(
    request: Request,
    url: URL,
    repo: string,
    grantFor: (a: Access[]) => Promise<Grant>,
  ): Promise<Reply | Response> {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      throw new RegistryError('UNSUPPORTED', `${request.method} is not supported on tags/list`);
    await grantFor([repoAccess(repo, 'pull')]);
    const { n, last } = pageParams(url);
    let tags = await store.listTags(repo);
    if (!tags && proxy) tags = await proxy.tags(repo);
    if (!tags)
      throw new RegistryError('NAME_UNKNOWN', `repository ${repo} is not known to this registry`, {
        detail: { name: repo },
      });
    const page = paginate(tags, n, last, `/v2/${repo}/tags/list`);
    return jsonResponse(200, { name: repo, tags: page.items }, page.link ? { Link: page.link } : {});
  }

  async function handleReferrers(
    request: Request,
    url: URL,
    repo: string,
    ref: string,
    grantFor: (a: Access[]) => Promise<Grant>,
  ): Promise<Reply | Response> {
    if (request.method !== 'GET')
      throw new RegistryError('UNSUPPORTED', `${request.method} is not supported on referrers`);
    await grantFor([repoAccess(repo, 'pull')]);
    const digest = parseDigestParam(ref, 'subject digest');
    const artifactType = url.searchParams.get('artifactType') ?? undefined;
    const manifests = await store.referrers(repo, digest, artifactType);
    const body = { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
    const text = JSON.stringify(body);
    const extra: Record<string, string> = {
      'Content-Type': MediaTypes.ociIndex,
      'Content-Length': String(Buffer.byteLength(text)),
    };
    if (artifactType !== undefined) extra['OCI-Filters-Applied'] = 'artifactType';
    return { status: 200, headers: headers(extra), body: text };
  }

  async function handleCatalog(
    request: Request,
    url: URL,
    grantFor: (a: Access[]) => Promise<Grant>,
  ): Promise<Reply | Response> {
    if (request.method !== 'GET')
      throw new RegistryError('UNSUPPORTED', `${request.method} is not supported on the catalog`);
    await grantFor([{ type: 'registry', name: 'catalog', actions: ['*'] }]);
    const { n, last } = pageParams(url);
    const page = paginate(await store.catalog(), n, last, '/v2/_catalog');
    return jsonResponse(200, { repositories: page.items }, page.link ? { Link: page.link } : {});
  }

  function corsHeaders(request: Request): Record<string, string> | undefined {
    const origin = request.headers.get('origin');
    if (!options.cors || !origin) return undefined;
    if (!options.cors.origins.includes('*') && !options.cors.origins.includes(origin)) return undefined;
    return {
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Allow-Credentials': 'true',
      'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
      'Access-Control-Allow-Headers': 'Authorization, Accept, Content-Type, Content-Range, Range',
      'Access-Control-Expose-Headers':
        'Docker-Content-Digest, Docker-Upload-UUID, Location, Range, Link, WWW-Authenticate, OCI-Subject, OCI-Filters-Applied',
    };
  }

  async function dispatch(
    request: Request,
    url: URL,
    ctx: { route: string; repo?: string; grant?: Grant },
  ): Promise<Reply | Response> {
    const path = url.pathname;
    if (path === '/healthz' || path === '/health') {
      ctx.route = 'health';
      await driver.stat('/');
      return jsonResponse(200, { status: 'ok', storage: driver.name });
    }
    if (path === '/metrics' && options.metrics !== false) {
      ctx.route = 'metrics';
      return { status: 200, headers: { 'Content-Type': 'text/plain; version=0.0.4' }, body: metrics.render() };
    }
    if (auth.handle) {
      const own = await auth.handle(request, url);
      if (own) {
        ctx.route = 'token';
        return own;
      }
    }
    const route = matchRoute(path);
    if (!route) {
      ctx.route = 'unknown';
      throw new RegistryError('UNSUPPORTED', `no such endpoint: ${request.method} ${path}`, { status: 404 });
    }
    ctx.route = route.name;
    const grantFor = async (needed: Access[]) => {
      const g = await auth.authorize(request, needed);
      ctx.grant = g;
      return g;
    };
    if (route.name === 'base') {
      await grantFor([]);
      return jsonResponse(200, {});
    }
    if (route.name === 'catalog') return handleCatalog(request, url, grantFor);
    const repo = route.repo!;
    ctx.repo = repo;
    if (!isRepositoryName(repo)) {
      await request.body?.cancel().catch(() => {});
      throw new RegistryError(
        'NAME_INVALID',
        `"${repo}" is not a valid repository name; use lower-case path components like library/alpine`,
        { detail: { name: repo } },
      );
    }
    switch (route.name) {
      case 'manifest':
        return handleManifest(request, repo, route.ref!, grantFor);
      case 'blob':
        return handleBlob(request, repo, route.ref!, grantFor);
      case 'uploads':
        return handleUploads(request, url, repo, grantFor);
      case 'upload':
        return handleUpload(request, url, repo, route.ref!, grantFor);
      case 'tags':
        return handleTags(request, url, repo, grantFor);
      default:
        return handleReferrers(request, url, repo, route.ref!, grantFor);
    }
  }

  async function handle(request: Request): Promise<Reply | Response> {
    const started = performance.now();
    const url = new URL(request.url);
    const ctx: { route: string; repo?: string; grant?: Grant; error?: string } = { route: 'unknown' };
    metrics.inFlight++;
    let response: Reply | Response;
    const cors = corsHeaders(request);
    try {
      if (request.method === 'OPTIONS' && cors) response = { status: 204, headers: { ...cors }, body: null };
      else response = await dispatch(request, url, ctx);
    } catch (err) {
      if (!(err instanceof RegistryError)) ctx.error = (err as Error)?.stack ?? String(err);
      else ctx.error = `${err.code}: ${err.message}`;
      await request.body?.cancel().catch(() => {});
      response = errorReply(err, request.method);
    } finally {
      metrics.inFlight--;
    }
    if (cors) {
      for (const [k, v] of Object.entries(cors)) {
        if (response instanceof Response) response.headers.set(k, v);
        else response.headers[k] = v;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    metrics.observe(request.method, ctx.route, response.status, seconds);
    if (options.log) {
      options.log({
        time: new Date().toISOString(),
        method: request.method,
        path: url.pathname,
        route: ctx.route,
        status: response.status,
        durationMs: Math.round(seconds * 1e4) / 10,
        ...(ctx.grant?.account ? { account: ctx.grant.account } : {}),
        ...(ctx.repo ? { repository: ctx.repo } : {}),
        ...(ctx.error ? { error: ctx.error } : {}),
        ...(request.headers.get('user-agent') ? { userAgent: request.headers.get('user-agent')! } : {}),
        ...(request.headers.get('x-forwarded-for') ? { remote: request.headers.get('x-forwarded-for')! } : {}),
      });
    }
    return response;
  }

  return {
    fetch: async (request: Request) => toResponse(await handle(request)),
    [rawHandler]: handle,
    store,
    metrics,
    collectGarbage: (gcOptions?: GcOptions) => collectGarbage(store, gcOptions),
    close: async () => {
      await driver.close?.();
    },
  };
}

function lazyStream(open: () => Promise<ReadableStream<Uint8Array> | undefined>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!reader) {
          const stream = await open();
          if (!stream) throw new RegistryError('BLOB_UNKNOWN', 'blob content disappeared while being read');
          reader = stream.getReader();
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      async cancel(reason) {
        await reader?.cancel(reason);
      },
    },
    // No pull before the first read: the Node adapter sends the file itself and never reads this body.
    { highWaterMark: 0 },
  );
}
