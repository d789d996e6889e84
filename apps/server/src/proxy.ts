import { createHash } from 'node:crypto';
import { type Digest, digestAlgorithm, isDigest } from '@lade/digest';
import { RegistryError } from './errors.js';
import { manifestMediaType } from './manifest-body.js';
import { MAX_MANIFEST_SIZE, MediaTypes } from './names.js';
import { parseRange } from './range.js';
import { type RegistryStore, readLimited, type StoredManifest } from './registry-store.js';

/** Options of a pull-through cache (distribution's `proxy` section). */
export interface ProxyOptions {
  /** The upstream registry, e.g. `https://registry-1.docker.io`. */
  readonly remoteUrl: string;
  readonly username?: string;
  readonly password?: string;
  /** How long a tag resolved upstream is trusted before asking again (default 5 minutes). */
  readonly tagTtlMs?: number;
  /** The fetch used to reach upstream (default: global fetch). */
  readonly fetch?: typeof fetch;
  /**
   * Clients pulling a blob that is being fetched share one upstream fetch, which goes at the pace of its slowest
   * reader; a client that reads nothing for this long is cut off so it cannot stall the others (default 30 s).
   */
  readonly stalledClientMs?: number;
}

const ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(', ');

/**
 * Serves pulls of content the registry does not have from an upstream registry and stores what it fetched
 * (verified against its digest), so later pulls are local.
 */
export class PullThroughCache {
  readonly #remote: string;
  readonly #options: ProxyOptions;
  readonly #tokens = new Map<string, { token: string; until: number }>();
  readonly #tagChecked = new Map<string, number>();
  readonly #fetch: typeof fetch;
  readonly #fills = new Map<string, Promise<BlobFill | undefined>>();

  constructor(options: ProxyOptions) {
    this.#remote = options.remoteUrl.replace(/\/+$/, '');
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
  }
  /** How long a cached tag is trusted before the upstream is asked again, in ms. */
  get tagTtlMs(): number {
    return this.#options.tagTtlMs ?? 5 * 60 * 1000;
  }

  /** How long a client may read nothing before it is cut off from a shared upstream fetch, in ms. */
  get stalledClientMs(): number {
    return this.#options.stalledClientMs ?? 30_000;
  }

  #upstreamName(repo: string): string {
    return /(^|\.)docker\.io$/.test(new URL(this.#remote).hostname) && !repo.includes('/') ? `library/${repo}` : repo;
  }

  async #request(repo: string, path: string, init: RequestInit = {}): Promise<Response> {
    const scope = `repository:${this.#upstreamName(repo)}:pull`;
    const url = `${this.#remote}${path}`;
    const withAuth = (auth?: string): RequestInit => ({
      ...init,
      headers: { ...(init.headers as Record<string, string>), ...(auth ? { Authorization: auth } : {}) },
    });
    const cached = this.#tokens.get(scope);
    let res = await this.#fetch(
      url,
      withAuth(cached && cached.until > Date.now() ? `Bearer ${cached.token}` : this.#basic()),
    );
    if (res.status !== 401) return res;
    const challenge = res.headers.get('www-authenticate') ?? '';
    await res.body?.cancel();
    if (/^basic/i.test(challenge)) return this.#fetch(url, withAuth(this.#basic()));
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!params.realm) return this.#fetch(url, withAuth());
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', scope);
    const basic = this.#basic();
    const tr = await this.#fetch(tokenUrl, basic ? { headers: { Authorization: basic } } : {});
    if (!tr.ok) {
      await tr.body?.cancel();
      throw new RegistryError(
        'UNAUTHORIZED',
        `upstream ${this.#remote} refused the proxy's credentials (${tr.status}); check proxy.username/password`,
        { status: 502 },
      );
    }
    const body = (await tr.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token ?? '';
    this.#tokens.set(scope, { token, until: Date.now() + ((body.expires_in ?? 60) - 10) * 1000 });
    res = await this.#fetch(url, withAuth(`Bearer ${token}`));
    return res;
  }

  #basic(): string | undefined {
    const { username, password } = this.#options;
    return username !== undefined
      ? `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`
      : undefined;
  }

  /** Resolves a manifest upstream (tags are re-checked after the TTL) and stores it; returns the local copy on upstream failure. */
  async manifest(
    store: RegistryStore,
    repo: string,
    reference: string,
    local: StoredManifest | undefined,
  ): Promise<StoredManifest | undefined> {
    const key = `${repo}:${reference}`;
    const ttl = this.tagTtlMs;
    if (local && (this.#tagChecked.get(key) ?? 0) + ttl > Date.now()) return local;
    let res: Response;
    try {
      res = await this.#request(repo, `/v2/${this.#upstreamName(repo)}/manifests/${reference}`, {
        headers: { Accept: ACCEPT },
      });
    } catch (err) {
      if (local) return local;
      throw new RegistryError('UNAVAILABLE', `upstream ${this.#remote} is unreachable: ${(err as Error).message}`, {
        status: 502,
      });
    }
    if (res.status === 404) {
      await res.body?.cancel();
      return local;
    }
    if (!res.ok) {
      await res.body?.cancel();
      if (local) return local;
      throw new RegistryError(
        'UNAVAILABLE',
        `upstream ${this.#remote} answered ${res.status} for ${repo}:${reference}`,
        { status: 502 },
      );
    }
    const bytes = await readLimited(res.body, MAX_MANIFEST_SIZE, 'upstream manifest');
    const digest = await store.putProxiedManifest(
      repo,
      bytes,
      isDigest(reference) ? { digest: reference } : { tag: reference },
    );
    this.#tagChecked.set(key, Date.now());
    return { digest, mediaType: res.headers.get('content-type')?.split(';')[0] || manifestMediaType(bytes), bytes };
  }

  /**
   * Serves a blob the registry does not hold yet from upstream; returns undefined when upstream does not have it
   * either, or when it is now in the local store (the caller serves it from there, ranges included).
   *
   * - A whole-blob GET streams from the one upstream fetch that also stores the blob: concurrent GETs of the same
   *   blob share that fetch (those arriving after bytes were already passed on wait and are then served from the
   *   store). The last chunk reaches clients only after the content matched its digest and was stored.
   * - A GET with `Range` answers 206 from an upstream range request (or from the store once the blob is there)
   *   and starts the shared whole-blob fetch in the background, so the blob is cached once.
   * - HEAD asks upstream for the size (206 with `Content-Range` when a range was asked for); it caches nothing.
   *
   * Nothing becomes visible before it was verified: a client going away mid-stream only detaches it from the fetch,
   * which completes (and caches) or is discarded.
   */
  async blob(
    store: RegistryStore,
    repo: string,
    digest: Digest,
    method: string,
    range: string | null,
  ): Promise<Response | undefined> {
    const path = `/v2/${this.#upstreamName(repo)}/blobs/${digest}`;
    if (method === 'HEAD') {
      return this.#headBlob(repo, digest, path, range).catch((err: unknown) => {
        throw this.#unavailable(err, digest);
      });
    }
    if (range && /^bytes=\d*-\d*$/.test(range.trim()) && range.trim() !== 'bytes=-') {
      const fill = this.#fill(store, repo, digest);
      fill.then((f) => f?.done).catch(() => {});
      return this.#rangeBlob(repo, digest, path, range, fill).catch((err: unknown) => {
        throw this.#unavailable(err, digest);
      });
    }
    let fill: BlobFill | undefined;
    try {
      fill = await this.#fill(store, repo, digest);
    } catch (err) {
      throw this.#unavailable(err, digest);
    }
    if (!fill) return undefined;
    const stream = fill.subscribe();
    if (stream) {
      return new Response(stream, { status: 200, headers: this.#blobHeaders(digest, fill.size) });
    }
    await fill.done.catch((err: unknown) => {
      throw this.#unavailable(err, digest);
    });
    return undefined;
  }

  #unavailable(err: unknown, digest: Digest): RegistryError {
    if (err instanceof RegistryError) return err;
    return new RegistryError(
      'UNAVAILABLE',
      `fetching blob ${digest} from upstream ${this.#remote} failed (${(err as Error)?.message ?? String(err)}); try again`,
      { status: 502 },
    );
  }

  /** The shared upstream fetch of a blob into a repository: joined when one is running, else started. */
  #fill(store: RegistryStore, repo: string, digest: Digest): Promise<BlobFill | undefined> {
    const key = `${repo}@${digest}`;
    let running = this.#fills.get(key);
    if (!running) {
      running = this.#startFill(store, repo, digest);
      this.#fills.set(key, running);
      const forget = () => {
        if (this.#fills.get(key) === running) this.#fills.delete(key);
      };
      running.then((f) => (f ? f.done.then(forget, forget) : forget()), forget);
    }
    return running;
  }

  async #startFill(store: RegistryStore, repo: string, digest: Digest): Promise<BlobFill | undefined> {
    const path = `/v2/${this.#upstreamName(repo)}/blobs/${digest}`;
    if (await store.statBlob(digest)) {
      // The content is here already (pulled through another repository): upstream need only confirm this one has it.
      const head = await this.#request(repo, path, { method: 'HEAD' });
      await head.body?.cancel();
      if (head.status === 404) return undefined;
      if (head.ok) {
        await store.linkBlob(repo, digest);
        return { done: Promise.resolve(), size: undefined, subscribe: () => undefined };
      }
    }
    const res = await this.#request(repo, path);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new RegistryError('UNAVAILABLE', `upstream ${this.#remote} answered ${res.status} for blob ${digest}`, {
        status: 502,
      });
    }
    const length = res.headers.get('content-length');
    const declared = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
    return startBlobFill(store, repo, digest, res.body, declared, this.#remote, this.stalledClientMs);
  }

  async #rangeBlob(
    repo: string,
    digest: Digest,
    path: string,
    range: string,
    fill: Promise<BlobFill | undefined>,
  ): Promise<Response | undefined> {
    const res = await this.#request(repo, path, { headers: { Range: range } });
    const contentRange = res.headers.get('content-range');
    if (res.status === 206 && res.body && contentRange && /^bytes \d+-\d+\/(\d+|\*)$/.test(contentRange)) {
      const h = this.#blobHeaders(digest, res.headers.get('content-length'));
      h.set('Content-Range', contentRange);
      return new Response(res.body, { status: 206, headers: h });
    }
    await res.body?.cancel();
    if (res.status === 416) {
      throw new RegistryError('RANGE_INVALID', `range ${range} is outside blob ${digest}`, {
        status: 416,
        ...(contentRange ? { headers: { 'Content-Range': contentRange } } : {}),
      });
    }
    if (res.status === 404) return undefined;
    if (!res.ok) {
      throw new RegistryError('UNAVAILABLE', `upstream ${this.#remote} answered ${res.status} for blob ${digest}`, {
        status: 502,
      });
    }
    // Upstream ignored the range: serve it from the store once the shared fetch has cached the blob.
    const f = await fill;
    await f?.done;
    return undefined;
  }

  async #headBlob(repo: string, digest: Digest, path: string, range: string | null): Promise<Response | undefined> {
    const res = await this.#request(repo, path, { method: 'HEAD' });
    await res.body?.cancel();
    if (res.status === 404) return undefined;
    if (!res.ok) {
      throw new RegistryError('UNAVAILABLE', `upstream ${this.#remote} answered ${res.status} for blob ${digest}`, {
        status: 502,
      });
    }
    const length = res.headers.get('content-length');
    const size = length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
    const r = size === undefined ? undefined : parseRange(range, size);
    if (r === 'unsatisfiable') {
      throw new RegistryError('RANGE_INVALID', `range ${range} is outside blob ${digest} of ${size} bytes`, {
        status: 416,
        headers: { 'Content-Range': `bytes */${size}` },
      });
    }
    if (!r) return new Response(null, { status: 200, headers: this.#blobHeaders(digest, length) });
    const h = this.#blobHeaders(digest, r.end - r.start + 1);
    h.set('Content-Range', `bytes ${r.start}-${r.end}/${size}`);
    return new Response(null, { status: 206, headers: h });
  }

  #blobHeaders(digest: Digest, length: string | number | null | undefined): Headers {
    const h = new Headers({
      'Docker-Distribution-API-Version': 'registry/2.0',
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
      'Accept-Ranges': 'bytes',
      ETag: `"${digest}"`,
    });
    if (length !== null && length !== undefined) h.set('Content-Length', String(length));
    return h;
  }

  /** The upstream's tags of a repository, or undefined. */
  async tags(repo: string): Promise<string[] | undefined> {
    const res = await this.#request(repo, `/v2/${this.#upstreamName(repo)}/tags/list`);
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const body = (await res.json()) as { tags?: string[] | null };
    return [...(body.tags ?? [])].sort();
  }
}

/** One upstream fetch of a blob that stores it and feeds the clients attached to it. */
interface BlobFill {
  /** Settles when the blob is stored and visible in the repository (or the fetch failed and nothing was kept). */
  readonly done: Promise<void>;
  /** The size upstream declared, when it did. */
  readonly size: number | undefined;
  /** A stream of the whole blob for one more client; undefined once bytes were passed on (wait for `done`). */
  subscribe(): ReadableStream<Uint8Array> | undefined;
}

/** Bytes queued per attached client before the shared fetch waits for it. */
const CLIENT_BUFFER = 4 * 1024 * 1024;

interface Subscriber {
  controller?: ReadableStreamDefaultController<Uint8Array>;
  wake?: (() => void) | undefined;
}

function startBlobFill(
  store: RegistryStore,
  repo: string,
  digest: Digest,
  body: ReadableStream<Uint8Array>,
  declared: number | undefined,
  remote: string,
  stalledMs: number,
): Promise<BlobFill> {
  const upstream = body.getReader();
  const subscribers = new Set<Subscriber>();
  const hash = createHash(digestAlgorithm(digest));
  let received = 0;
  let passedOn = false;
  let verified = false;
  let held: Uint8Array | undefined;

  const detach = (sub: Subscriber, err?: unknown) => {
    if (!subscribers.delete(sub)) return;
    if (err !== undefined) {
      try {
        sub.controller?.error(err);
      } catch {
        // already closed or cancelled
      }
    }
    sub.wake?.();
  };
  const send = (chunk: Uint8Array) => {
    passedOn = true;
    for (const sub of subscribers) {
      try {
        sub.controller!.enqueue(chunk);
      } catch {
        detach(sub);
      }
    }
  };
  /** Waits until every attached client has room (the fetch goes at the pace of its readers, never buffering more). */
  const room = () =>
    Promise.all(
      [...subscribers]
        .filter((sub) => (sub.controller?.desiredSize ?? 1) <= 0)
        .map(
          (sub) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(
                () =>
                  detach(
                    sub,
                    new RegistryError(
                      'UNAVAILABLE',
                      `client read nothing of blob ${digest} for ${stalledMs} ms; it was cut off, pull again`,
                    ),
                  ),
                stalledMs,
              );
              sub.wake = () => {
                clearTimeout(timer);
                sub.wake = undefined;
                resolve();
              };
            }),
        ),
    );

  const toStore = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { done, value } = await upstream.read();
        if (done) {
          const actual = `${digestAlgorithm(digest)}:${hash.digest('hex')}`;
          if (actual !== digest || (declared !== undefined && received !== declared)) {
            controller.error(
              new RegistryError(
                'UNAVAILABLE',
                `upstream ${remote} sent ${received} bytes with digest ${actual} for blob ${digest}; nothing was cached`,
                { status: 502 },
              ),
            );
            return;
          }
          verified = true;
          controller.close();
          return;
        }
        received += value.byteLength;
        hash.update(value);
        await room();
        if (held) send(held);
        held = value;
        controller.enqueue(value);
      },
      async cancel(reason) {
        await upstream.cancel(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );

  const finish = (err?: unknown) => {
    if (err === undefined || verified) {
      // Verified content reaches the clients even if storing it failed; the next pull fetches it again.
      if (held) send(held);
      held = undefined;
      for (const sub of [...subscribers]) {
        try {
          sub.controller?.close();
        } catch {
          // cancelled meanwhile
        }
        detach(sub);
      }
    } else {
      for (const sub of [...subscribers]) detach(sub, err);
    }
  };

  return (async () => {
    let id: string;
    try {
      id = await store.createUpload(repo);
    } catch (err) {
      await upstream.cancel(err).catch(() => {});
      throw err;
    }
    const done = store.finishUpload(repo, id, digest, toStore, `/v2/${repo}/blobs/uploads/${id}`).then(
      () => finish(),
      async (err: unknown) => {
        finish(err);
        await upstream.cancel(err).catch(() => {});
        await store.cancelUpload(repo, id).catch(() => {});
        throw err;
      },
    );
    done.catch(() => {});
    return {
      done,
      size: declared,
      subscribe() {
        if (passedOn) return undefined;
        const sub: Subscriber = {};
        subscribers.add(sub);
        return new ReadableStream<Uint8Array>(
          {
            start(controller) {
              sub.controller = controller;
            },
            pull() {
              sub.wake?.();
            },
            cancel() {
              detach(sub);
            },
          },
          { highWaterMark: CLIENT_BUFFER, size: (chunk) => chunk.byteLength },
        );
      },
    };
  })();
}
