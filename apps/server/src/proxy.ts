import { type Digest, isDigest } from '@lade/digest';
import { RegistryError } from './errors.js';
import { manifestMediaType } from './manifest-body.js';
import { MAX_MANIFEST_SIZE, MediaTypes } from './names.js';
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

  constructor(options: ProxyOptions) {
    this.#remote = options.remoteUrl.replace(/\/+$/, '');
    this.#options = options;
    this.#fetch = options.fetch ?? fetch;
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
    const ttl = this.#options.tagTtlMs ?? 5 * 60 * 1000;
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

  /** Streams a blob from upstream to the client while storing it (verified) for later pulls. */
  async blob(
    store: RegistryStore,
    repo: string,
    digest: Digest,
    method: string,
    _range: string | null,
  ): Promise<Response | undefined> {
    const path = `/v2/${this.#upstreamName(repo)}/blobs/${digest}`;
    const res = await this.#request(repo, path, { method: method === 'HEAD' ? 'HEAD' : 'GET' });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      if (res.status === 404 || method === 'HEAD') {
        if (res.ok)
          return new Response(null, {
            status: 200,
            headers: this.#blobHeaders(digest, res.headers.get('content-length')),
          });
        return undefined;
      }
      throw new RegistryError('UNAVAILABLE', `upstream ${this.#remote} answered ${res.status} for blob ${digest}`, {
        status: 502,
      });
    }
    const [toClient, toStore] = res.body.tee();
    const id = await store.createUpload(repo);
    store
      .finishUpload(repo, id, digest, toStore, `/v2/${repo}/blobs/uploads/${id}`)
      .catch(() => store.cancelUpload(repo, id).catch(() => {}));
    return new Response(toClient, {
      status: 200,
      headers: this.#blobHeaders(digest, res.headers.get('content-length')),
    });
  }

  #blobHeaders(digest: Digest, length: string | null): Headers {
    const h = new Headers({
      'Docker-Distribution-API-Version': 'registry/2.0',
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest,
    });
    if (length) h.set('Content-Length', length);
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
