import {
  type Digest,
  DigestInvalidError,
  hash,
  isDigest,
  parseDigest,
  SizeInvalidError,
  verifyBytes,
  verifyingStream,
} from '@lade/digest';
import {
  type Descriptor,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_SIZE,
  markOwnedChunks,
  ownsChunks,
  readBounded,
  releaseChunk,
} from '@lade/manifest';
import { isValidPath, isValidTag } from '@lade/reference';
import { type BearerToken, basicAuthorization, CATALOG_SCOPE, fetchBearerToken, pushScope } from './auth.js';
import { type AuthChallenge, parseChallenges } from './challenge.js';
import type { CredentialProvider, Credentials } from './credentials.js';
import { dockerCredentials } from './credentials.js';
import {
  RegistryConnectionError,
  RegistryError,
  RegistryProtocolError,
  RegistryUsageError,
  type RequestSubject,
  registryErrorFrom,
  TooManyRequestsError,
  UnauthorizedError,
} from './errors.js';
import { isLoopback, registryEndpoint } from './hosts.js';
import {
  connectionError,
  createTransport,
  discard,
  type HttpResponse,
  type HttpTransport,
  parseRetryAfter,
  readText,
  type TimeoutOptions,
} from './http.js';
import {
  addReferrerFallback,
  type ListOptions,
  listQuery,
  listReferrers,
  manifestSubject,
  paginate,
  referrerFields,
} from './listing.js';
import { type BlobUploadOptions, type BlobUploadResult, cancelUpload, mountOrStart, uploadBlob } from './upload.js';

/** Retries of failed requests (network errors, 5xx, 429). */
export interface RetryOptions {
  /** Attempts after the first (default 4). */
  readonly retries?: number;
  /** First backoff delay; doubles each attempt, with jitter (default 250 ms). */
  readonly minDelayMs?: number;
  /** Longest backoff delay (default 8 s). */
  readonly maxDelayMs?: number;
  /** A `Retry-After` longer than this fails at once with TOOMANYREQUESTS instead of waiting (default 60 s). */
  readonly maxRetryAfterMs?: number;
}

/** Options of one {@link Registry}. */
export interface RegistryOptions {
  /** Allow plain http and unverified TLS for this host (docker's insecure-registries). Loopback hosts always are. */
  readonly insecure?: boolean;
  /** Force a scheme; by default https, and for loopback/insecure hosts https falling back to http. */
  readonly scheme?: 'https' | 'http';
  /** Credentials, a provider, or `null` for anonymous only. Default: docker's config.json and credential helpers. */
  readonly credentials?: Credentials | CredentialProvider | null;
  readonly retry?: RetryOptions;
  readonly timeouts?: TimeoutOptions;
  /** Connections per origin (default 8). */
  readonly connections?: number;
  readonly userAgent?: string;
  /** Replaces the HTTP transport (tests, runtimes without undici). */
  readonly transport?: HttpTransport;
  /** Chunk size of chunked blob uploads and the largest blob pushed in one request (default 16 MiB). */
  readonly chunkSize?: number;
}

/** A low-level request to the registry API. */
export interface RegistryRequest {
  readonly method: string;
  /** Path from the registry root (`/v2/…`) or an absolute URL (an upload `Location`). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Replayable bodies only: a request may be sent again after a 401 or a retryable failure. */
  readonly body?: Uint8Array;
  /** Token scopes the request needs, e.g. `repository:app:pull`. */
  readonly scopes?: readonly string[];
  /** Statuses returned to the caller instead of thrown (2xx always are). */
  readonly allow?: readonly number[];
  /** Send credentials and answer 401 challenges (default true); `false` sends the request anonymously, once. */
  readonly authenticate?: boolean;
  /** Retry on network errors, 5xx and 429 (default true). */
  readonly retry?: boolean;
  /** Follow redirects (default true); `Authorization` is dropped when a redirect leaves the registry's origin. */
  readonly followRedirects?: boolean;
  readonly subject?: RequestSubject;
  readonly signal?: AbortSignal;
}

/** What `ping()` found. */
export interface PingResult {
  /** The status of `GET /v2/` (200, or 401 when authentication is required). */
  readonly status: number;
  /** The authentication challenges of a 401. */
  readonly challenges: readonly AuthChallenge[];
  /** `Docker-Distribution-API-Version`, when sent. */
  readonly apiVersion: string | undefined;
  /** The base URL the registry answered on (`https://host` or `http://host`). */
  readonly baseUrl: string;
}

/** A manifest and its descriptor as a registry served it. */
export interface FetchedManifest {
  readonly descriptor: Descriptor;
  readonly bytes: Uint8Array;
}

/** Options of opening a blob. */
export interface BlobReadOptions {
  readonly signal?: AbortSignal;
  /** Start at this byte. */
  readonly offset?: number;
  /** Verify size and digest while streaming (only from offset 0); the stream errors before its end on a mismatch. */
  readonly verify?: boolean;
  /** Called with the bytes received so far (from offset). */
  readonly onProgress?: (received: number) => void;
  /** Resume an interrupted transfer with `Range` at most this many times in a row without progress (default 5). */
  readonly maxResumes?: number;
}

/** Refuses a repository path that is not distribution's grammar (nothing is sent). */
export function checkRepository(host: string, repository: string): void {
  if (typeof repository !== 'string' || !isValidPath(repository) || repository.length > 255) {
    throw new RegistryUsageError(
      'NAME_INVALID',
      `invalid repository name "${repository}" for ${host}: use lowercase path components like team/app`,
    );
  }
}

/** Refuses a reference that is neither a tag nor a digest (nothing is sent). */
export function checkReference(repository: string, reference: string): void {
  if (typeof reference !== 'string' || (!isValidTag(reference) && !isDigest(reference))) {
    throw new RegistryUsageError(
      'TAG_INVALID',
      `invalid tag or digest "${reference}" for ${repository}: use a tag like v1.2 or a digest like sha256:<64 hex>`,
    );
  }
}

function checkDigestArg(what: string, digest: string): void {
  if (!isDigest(digest))
    throw new RegistryUsageError(
      'DIGEST_INVALID',
      `invalid digest "${digest}" for ${what}: expected sha256:<64 hex> or sha512:<128 hex>`,
    );
}

const DEFAULT_USER_AGENT = 'lade/0.1 (+https://github.com/lade)';
const MAX_REDIRECTS = 10;

type AuthState =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'none' }
  | { readonly kind: 'basic' }
  | { readonly kind: 'bearer'; readonly challenge: AuthChallenge };

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * One registry host and everything that lives with it: a pool of keep-alive connections, the authentication state
 * (challenge, basic credentials, bearer tokens cached per scope), retries and redirects. Methods take the repository
 * path (`library/alpine`) and a tag or digest.
 *
 * @example
 * const reg = new Registry('127.0.0.1:5000');
 * const { descriptor, bytes } = await reg.getManifest('fixtures/multi', 'latest');
 * await reg.close();
 */
export class Registry {
  /** The host as the user named it (`docker.io`, `127.0.0.1:5000`): credentials are looked up under it. */
  readonly host: string;
  /** The host requests go to (`registry-1.docker.io` for `docker.io`). */
  readonly endpoint: string;
  readonly insecure: boolean;
  readonly chunkSize: number;
  readonly userAgent: string;
  readonly #transport: HttpTransport;
  readonly #ownsTransport: boolean;
  readonly #retry: Required<RetryOptions>;
  readonly #credentialSource: Credentials | CredentialProvider | null;
  #credentials: Promise<Credentials | undefined> | undefined;
  #auth: AuthState = { kind: 'unknown' };
  readonly #tokens = new Map<string, BearerToken>();
  readonly #pendingTokens = new Map<string, Promise<BearerToken>>();
  #baseUrl: string | undefined;
  #baseUrlProbe: Promise<string> | undefined;
  readonly #forcedScheme: 'https' | 'http' | undefined;

  constructor(host: string, options: RegistryOptions = {}) {
    if (!host || /[/\s]/.test(host))
      throw new RegistryUsageError('NAME_INVALID', `invalid registry host "${host}": expected host[:port]`);
    this.host = host;
    this.endpoint = registryEndpoint(host);
    this.insecure = options.insecure === true || isLoopback(this.endpoint);
    if (options.scheme === 'http' && !this.insecure) {
      throw new RegistryUsageError(
        'INSECURE_REFUSED',
        `refusing plain http to ${host}: only loopback hosts or hosts marked insecure may use http; mark it insecure (--insecure) if you trust the network`,
      );
    }
    this.#forcedScheme = options.scheme;
    this.chunkSize = options.chunkSize ?? 16 * 1024 * 1024;
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#ownsTransport = options.transport === undefined;
    this.#transport =
      options.transport ??
      createTransport({
        ...(options.timeouts ? { timeouts: options.timeouts } : {}),
        insecureTls: this.insecure,
        ...(options.connections !== undefined ? { connections: options.connections } : {}),
      });
    const r = options.retry ?? {};
    this.#retry = {
      retries: r.retries ?? 4,
      minDelayMs: r.minDelayMs ?? 250,
      maxDelayMs: r.maxDelayMs ?? 8_000,
      maxRetryAfterMs: r.maxRetryAfterMs ?? 60_000,
    };
    this.#credentialSource = options.credentials === undefined ? dockerCredentials() : options.credentials;
  }

  /** Releases the connection pool. */
  async close(): Promise<void> {
    if (this.#ownsTransport) await this.#transport.close();
  }

  /** The credentials in use (looked up once). */
  credentials(): Promise<Credentials | undefined> {
    if (!this.#credentials) {
      const src = this.#credentialSource;
      this.#credentials =
        src === null ? Promise.resolve(undefined) : typeof src === 'function' ? src(this.host) : Promise.resolve(src);
      this.#credentials.catch(() => {
        this.#credentials = undefined;
      });
    }
    return this.#credentials;
  }

  // ---- connection and scheme ----

  /** The base URL (`https://host` or, for loopback/insecure hosts that do not speak TLS, `http://host`). */
  async baseUrl(signal?: AbortSignal): Promise<string> {
    if (this.#baseUrl) return this.#baseUrl;
    if (this.#forcedScheme || !this.insecure) {
      this.#baseUrl = `${this.#forcedScheme ?? 'https'}://${this.endpoint}`;
      return this.#baseUrl;
    }
    this.#baseUrlProbe ??= this.#probeScheme(signal).finally(() => {
      this.#baseUrlProbe = undefined;
    });
    return this.#baseUrlProbe;
  }

  // docker's insecure-registry behaviour: try TLS first, fall back to plain http when the host does not speak it.
  async #probeScheme(signal?: AbortSignal): Promise<string> {
    const https = `https://${this.endpoint}`;
    try {
      const res = await this.#transport.send({
        method: 'GET',
        url: `${https}/v2/`,
        headers: { 'user-agent': this.userAgent },
        ...(signal ? { signal } : {}),
      });
      await discard(res);
      this.#baseUrl = https;
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      const err = connectionError(e, 'GET', `${https}/v2/`, { host: this.host });
      if (err.failure === 'refused' || err.failure === 'dns') {
        // Nothing listens at all: report it against the http URL a local registry most likely serves.
        const httpErr = connectionError(e, 'GET', `http://${this.endpoint}/v2/`, { host: this.host });
        throw httpErr;
      }
      this.#baseUrl = `http://${this.endpoint}`;
    }
    return this.#baseUrl;
  }

  // ---- authentication ----

  async #authorization(scopes: readonly string[], signal?: AbortSignal): Promise<string | undefined> {
    const state = this.#auth;
    if (state.kind === 'unknown' || state.kind === 'none') return undefined;
    const creds = await this.credentials();
    if (state.kind === 'basic') {
      if (creds?.username !== undefined && creds.password !== undefined)
        return basicAuthorization(creds.username, creds.password);
      return undefined;
    }
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    const token = await this.#token(state.challenge, scopes, signal);
    return `Bearer ${token.token}`;
  }

  #token(
    challenge: AuthChallenge,
    scopes: readonly string[],
    signal?: AbortSignal,
    offline = false,
  ): Promise<BearerToken> {
    const key = [...new Set(scopes)].sort().join(' ');
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return Promise.resolve(cached);
    let pending = this.#pendingTokens.get(key);
    if (!pending) {
      pending = (async () => {
        const creds = await this.credentials();
        const t = await fetchBearerToken({
          challenge,
          scopes: [...new Set(scopes)],
          credentials: creds,
          transport: this.#transport,
          userAgent: this.userAgent,
          host: this.host,
          offline,
          ...(signal ? { signal } : {}),
        });
        this.#tokens.set(key, t);
        return t;
      })().finally(() => this.#pendingTokens.delete(key));
      this.#pendingTokens.set(key, pending);
    }
    return pending;
  }

  /**
   * Learns from a 401: returns true when the request should be sent again (new scheme learnt, stale token dropped).
   * `sent` is the Authorization header the failed request carried.
   */
  async #onUnauthorized(res: HttpResponse, scopes: readonly string[], sent: string | undefined): Promise<boolean> {
    const challenges = parseChallenges(res.headers.get('www-authenticate') ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const creds = await this.credentials();
    if (bearer) {
      this.#auth = { kind: 'bearer', challenge: bearer };
      const key = [...new Set(scopes)].sort().join(' ');
      // A token the registry refused (expired early, revoked, key rotated) is dropped and fetched again once.
      const cached = this.#tokens.get(key);
      if (cached && sent === `Bearer ${cached.token}`) this.#tokens.delete(key);
      if (creds?.registryToken && sent === `Bearer ${creds.registryToken}`) return false;
      return true;
    }
    if (basic) {
      this.#auth = { kind: 'basic' };
      // Retry once when this request went out without credentials (concurrent first requests all do); never when
      // the registry refused the ones it was sent.
      return !sent?.startsWith('Basic ') && creds?.username !== undefined && creds.password !== undefined;
    }
    return false;
  }

  // ---- requests ----

  /**
   * Sends one request to the registry API with authentication, retries (network errors, 5xx, 429 honouring
   * `Retry-After`) and redirects (never forwarding `Authorization` to another origin). Non-2xx statuses not in
   * `allow` become {@link RegistryError}s.
   */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    const base = await this.baseUrl(req.signal);
    const scopes = req.scopes ?? [];
    const subject: RequestSubject = { host: this.host, ...req.subject, method: req.method };
    const retryable = req.retry ?? true;
    let attempt = 0;
    let authRetried = false;
    for (;;) {
      let url = /^https?:\/\//.test(req.path) ? req.path : `${base}${req.path}`;
      let method = req.method;
      let body = req.body;
      const authorization = req.authenticate === false ? undefined : await this.#authorization(scopes, req.signal);
      let res: HttpResponse;
      let redirects = 0;
      try {
        for (;;) {
          const headers: Record<string, string> = { 'user-agent': this.userAgent };
          for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
          if (authorization && new URL(url).origin === new URL(base).origin) headers.authorization = authorization;
          res = await this.#transport.send({
            method,
            url,
            headers,
            ...(body !== undefined ? { body } : {}),
            ...(req.signal ? { signal: req.signal } : {}),
          });
          const location = res.headers.get('location');
          if ((req.followRedirects ?? true) && [301, 302, 303, 307, 308].includes(res.status) && location) {
            await discard(res);
            if (++redirects > MAX_REDIRECTS) {
              throw new RegistryProtocolError(
                'UNKNOWN',
                `${this.host}: too many redirects for ${req.method} ${req.path}`,
                subject,
              );
            }
            url = new URL(location, url).toString();
            if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
              method = 'GET';
              body = undefined;
            }
            continue;
          }
          break;
        }
      } catch (e) {
        if (req.signal?.aborted) throw req.signal.reason;
        if (e instanceof RegistryError) throw e;
        const err = connectionError(e, method, url, subject);
        if (retryable && attempt < this.#retry.retries && err.failure !== 'dns' && err.failure !== 'tls') {
          await sleep(this.#backoff(attempt++), req.signal);
          continue;
        }
        throw err;
      }
      res = res!;
      if (res.status === 401 && !authRetried && req.authenticate !== false) {
        authRetried = true;
        if (await this.#onUnauthorized(res, scopes, authorization)) {
          await discard(res);
          continue;
        }
      }
      if (
        (res.status === 429 || (res.status >= 500 && res.status !== 501)) &&
        retryable &&
        attempt < this.#retry.retries
      ) {
        const after = parseRetryAfter(res.headers.get('retry-after'));
        if (after === undefined || after <= this.#retry.maxRetryAfterMs) {
          await discard(res);
          await sleep(Math.max(after ?? 0, this.#backoff(attempt++)), req.signal);
          continue;
        }
      }
      if ((res.status >= 200 && res.status < 300) || req.allow?.includes(res.status)) return res;
      const text = req.method === 'HEAD' ? '' : await readText(res);
      if (req.method === 'HEAD') await discard(res);
      const err = registryErrorFrom(res.status, text, { ...subject, url });
      if (err instanceof TooManyRequestsError) err.retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      throw err;
    }
  }

  #backoff(attempt: number): number {
    const d = Math.min(this.#retry.maxDelayMs, this.#retry.minDelayMs * 2 ** attempt);
    return d / 2 + Math.random() * (d / 2);
  }

  // ---- version check and login ----

  /** `GET /v2/`: is this a registry, and what authentication does it want? Never throws on 401. */
  async ping(options: { signal?: AbortSignal } = {}): Promise<PingResult> {
    const baseUrl = await this.baseUrl(options.signal);
    const res = await this.request({
      method: 'GET',
      path: '/v2/',
      allow: [401],
      authenticate: false,
      subject: { kind: 'ping' },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await discard(res);
    const challenges = res.status === 401 ? parseChallenges(res.headers.get('www-authenticate') ?? '') : [];
    if (this.#auth.kind === 'unknown') {
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      if (bearer) this.#auth = { kind: 'bearer', challenge: bearer };
      else if (challenges.some((c) => c.scheme === 'basic')) this.#auth = { kind: 'basic' };
      else if (res.status === 200) this.#auth = { kind: 'none' };
    }
    return {
      status: res.status,
      challenges,
      apiVersion: res.headers.get('docker-distribution-api-version') ?? undefined,
      baseUrl,
    };
  }

  /**
   * Verifies credentials as `docker login` does: basic auth against `/v2/`, or a token from the realm.
   * Returns the refresh token a token service issued (store it as the identity token), if any.
   * @throws UnauthorizedError when the registry refuses the credentials
   */
  async login(credentials: Credentials, options: { signal?: AbortSignal } = {}): Promise<{ identityToken?: string }> {
    const probe = new Registry(this.host, {
      credentials,
      transport: this.#transport,
      insecure: this.insecure,
      ...(this.#forcedScheme ? { scheme: this.#forcedScheme } : {}),
      retry: this.#retry,
      userAgent: this.userAgent,
    });
    const ping = await probe.ping(options);
    if (ping.status === 200) return {};
    const bearer = ping.challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      let t: BearerToken;
      try {
        t = await probe.#token(bearer, [], options.signal, true);
      } catch (e) {
        if (e instanceof UnauthorizedError) throw this.#loginFailed(ping.baseUrl, e);
        throw e;
      }
      probe.#auth = { kind: 'bearer', challenge: bearer };
      const res = await probe.request({
        method: 'GET',
        path: '/v2/',
        allow: [401],
        retry: true,
        subject: { kind: 'ping' },
        ...(options.signal ? { signal: options.signal } : {}),
      });
      await discard(res);
      if (res.status === 401) throw this.#loginFailed(ping.baseUrl);
      return t.refreshToken ? { identityToken: t.refreshToken } : {};
    }
    const res = await probe.request({
      method: 'GET',
      path: '/v2/',
      allow: [401],
      subject: { kind: 'ping' },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await discard(res);
    if (res.status === 401) throw this.#loginFailed(ping.baseUrl);
    return {};
  }

  #loginFailed(baseUrl: string, cause?: unknown): UnauthorizedError {
    return new UnauthorizedError(
      'UNAUTHORIZED',
      `login to ${this.host} failed: the registry refused the username or password; check them and retry`,
      {
        status: 401,
        ...(cause !== undefined ? { cause } : {}),
        host: this.host,
        url: `${baseUrl}/v2/`,
        errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }],
      },
    );
  }

  // ---- manifests ----

  /** `HEAD` a manifest: its descriptor (digest from `Docker-Content-Digest`), or undefined when the registry does not have it. */
  async headManifest(
    repository: string,
    reference: string,
    options: { signal?: AbortSignal; accept?: readonly string[] } = {},
  ): Promise<Descriptor | undefined> {
    checkRepository(this.host, repository);
    checkReference(repository, reference);
    const res = await this.request({
      method: 'HEAD',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: (options.accept ?? MANIFEST_ACCEPT).join(', ') },
      scopes: [`repository:${repository}:pull`],
      allow: [404],
      subject: { kind: 'manifest', repository, reference },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await discard(res);
    if (res.status === 404) return undefined;
    const header = res.headers.get('docker-content-digest');
    const digest = header && isDigest(header) ? header : isDigest(reference) ? reference : undefined;
    const size = Number(res.headers.get('content-length') ?? Number.NaN);
    const mediaType = contentType(res);
    if (!digest || !Number.isFinite(size) || !mediaType) return undefined;
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryProtocolError(
        'DIGEST_INVALID',
        `${this.host}/${repository}@${reference}: the registry answered digest ${digest}; it is broken or hostile`,
        {
          host: this.host,
          repository,
          reference,
        },
      );
    }
    return { mediaType, digest, size };
  }

  /**
   * `GET` a manifest with the full Accept list. The bytes are checked against the digest when fetched by digest,
   * and against `Docker-Content-Digest` when fetched by tag; at most 4 MiB are read.
   * @throws ManifestUnknownError, DigestInvalidError, RegistryProtocolError (over 4 MiB)
   */
  async getManifest(
    repository: string,
    reference: string,
    options: { signal?: AbortSignal; accept?: readonly string[] } = {},
  ): Promise<FetchedManifest> {
    checkRepository(this.host, repository);
    checkReference(repository, reference);
    const byDigest = isDigest(reference);
    const subject: RequestSubject = { kind: 'manifest', host: this.host, repository, reference };
    const res = await this.request({
      method: 'GET',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: (options.accept ?? MANIFEST_ACCEPT).join(', ') },
      scopes: [`repository:${repository}:pull`],
      subject,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const bytes = await readLimited(
      res,
      MAX_MANIFEST_SIZE,
      `manifest ${this.host}/${repository}:${reference}`,
      subject,
    );
    const header = res.headers.get('docker-content-digest');
    let digest: Digest;
    const name = `manifest ${this.host}/${repository}${byDigest ? '@' : ':'}${reference}`;
    if (byDigest) {
      digest = parseDigest(reference);
      verifyBytes(bytes, { digest, name });
    } else if (header && isDigest(header)) {
      digest = header;
      verifyBytes(bytes, { digest, name: `${name} (Docker-Content-Digest)` });
    } else {
      digest = hash(bytes);
    }
    const mediaType = contentType(res) ?? bodyMediaType(bytes);
    return { descriptor: { mediaType, digest, size: bytes.byteLength }, bytes };
  }

  /**
   * The descriptor a tag or digest names: `HEAD` first (one round trip, no body), `GET` when the registry's
   * `HEAD` lacks a digest. The digest of a tag is checked against the bytes whenever they are fetched.
   */
  async resolve(repository: string, reference: string, options: { signal?: AbortSignal } = {}): Promise<Descriptor> {
    const head = await this.headManifest(repository, reference, options);
    if (head) return head;
    return (await this.getManifest(repository, reference, options)).descriptor;
  }

  // ---- blobs ----

  /** `HEAD` a blob: its size, or undefined when the repository does not have it. */
  async headBlob(
    repository: string,
    digest: Digest | string,
    options: { signal?: AbortSignal; scopes?: readonly string[] } = {},
  ): Promise<number | undefined> {
    checkRepository(this.host, repository);
    checkDigestArg(repository, digest);
    const res = await this.request({
      method: 'HEAD',
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: options.scopes ?? [`repository:${repository}:pull`],
      allow: [404],
      subject: { kind: 'blob', repository, reference: digest },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await discard(res);
    if (res.status === 404) return undefined;
    const len = Number(res.headers.get('content-length') ?? Number.NaN);
    return Number.isFinite(len) ? len : -1;
  }

  /**
   * A blob as a stream. A transfer cut short is resumed transparently with `Range: bytes=N-`; with `verify` the
   * stream errors (before its end) when size or digest do not match. Redirects to blob storage are followed without
   * the registry's `Authorization`.
   */
  async openBlob(
    repository: string,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    options: BlobReadOptions = {},
  ): Promise<ReadableStream<Uint8Array>> {
    checkRepository(this.host, repository);
    checkDigestArg(repository, descriptor.digest);
    const start = options.offset ?? 0;
    if (start < 0 || (descriptor.size >= 0 && start > descriptor.size)) {
      throw new RegistryUsageError(
        'RANGE_INVALID',
        `cannot read blob ${descriptor.digest} from byte ${start}: it has ${descriptor.size} bytes`,
      );
    }
    const subject: RequestSubject = { kind: 'blob', host: this.host, repository, reference: descriptor.digest };
    const maxResumes = options.maxResumes ?? 5;
    const size = descriptor.size;
    let pos = start;
    let skip = 0;
    let failures = 0;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    // Whether the current response hands its chunks over with ownership (@lade/manifest's owned chunks).
    let owned = false;
    let cancelled = false;
    const signal = options.signal;

    const connect = async (): Promise<void> => {
      const res = await this.request({
        method: 'GET',
        path: `/v2/${repository}/blobs/${descriptor.digest}`,
        ...(pos > 0 ? { headers: { range: `bytes=${pos}-` } } : {}),
        scopes: [`repository:${repository}:pull`],
        subject,
        ...(signal ? { signal } : {}),
      });
      skip = 0;
      if (pos > 0) {
        if (res.status === 206) {
          const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
          if (!m || Number(m[1]) !== pos) {
            await discard(res);
            throw new RegistryProtocolError(
              'UNKNOWN',
              `blob ${descriptor.digest}: asked for bytes from ${pos}, the registry sent ${res.headers.get('content-range') ?? 'no Content-Range'}`,
              subject,
            );
          }
        } else {
          skip = pos; // the registry ignored Range: drop what we already have
        }
      }
      if (!res.body)
        throw new RegistryProtocolError('UNKNOWN', `blob ${descriptor.digest}: the registry sent no body`, subject);
      owned = ownsChunks(res.body);
      reader = res.body.getReader();
    };

    const resumable = (e: unknown): boolean => {
      if (signal?.aborted) return false;
      if (e instanceof RegistryError && !(e instanceof RegistryConnectionError)) return false;
      return failures < maxResumes;
    };

    await connect();
    // This stream hands its chunks over when the first response did; a resumed response that does not is copied
    // chunk by chunk (see `pull`), so the reader owns those too.
    const marked = owned;
    const stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        for (;;) {
          if (!reader) {
            try {
              await connect();
            } catch (e) {
              if (resumable(e)) {
                failures++;
                await sleep(this.#backoff(failures - 1), signal);
                continue;
              }
              throw e;
            }
          }
          let chunk: ReadableStreamReadResult<Uint8Array>;
          try {
            chunk = await reader!.read();
          } catch (e) {
            reader = undefined;
            if (resumable(e)) {
              failures++;
              continue;
            }
            if (signal?.aborted) throw signal.reason;
            throw e instanceof RegistryError
              ? e
              : connectionError(
                  e,
                  'GET',
                  `${this.#baseUrl ?? `https://${this.endpoint}`}/v2/${repository}/blobs/${descriptor.digest}`,
                  subject,
                );
          }
          if (chunk.done) {
            reader = undefined;
            if (!cancelled && size >= 0 && pos < size && failures < maxResumes) {
              // The connection ended cleanly but short (a proxy dropped it): resume.
              failures++;
              continue;
            }
            controller.close();
            return;
          }
          let value = chunk.value;
          if (skip > 0) {
            const drop = Math.min(skip, value.byteLength);
            skip -= drop;
            if (drop === value.byteLength) {
              if (owned) releaseChunk(value);
              continue;
            }
            value = value.subarray(drop);
          }
          pos += value.byteLength;
          failures = 0;
          options.onProgress?.(pos - start);
          controller.enqueue(marked && !owned ? value.slice() : value);
          return;
        }
      },
      cancel: async (reason) => {
        // A read waiting on the response ends as done: it must not count as a connection cut short and reconnect.
        cancelled = true;
        await reader?.cancel(reason).catch(() => {});
      },
    });
    if (marked) markOwnedChunks(stream);
    if (options.verify && start === 0) {
      return stream.pipeThrough(
        verifyingStream({
          digest: descriptor.digest,
          size: descriptor.size,
          name: `blob ${descriptor.digest} of ${this.host}/${repository}`,
        }),
      );
    }
    return stream;
  }

  // ---- push ----

  /**
   * Pushes a blob (see {@link uploadBlob}): skipped when present, mounted from `mountFrom` repositories when the
   * registry allows, else uploaded whole or in `chunkSize` chunks with resume of an interrupted chunk.
   */
  uploadBlob(
    repository: string,
    descriptor: Pick<Descriptor, 'digest' | 'size'>,
    content: ReadableStream<Uint8Array> | Uint8Array,
    options: BlobUploadOptions = {},
  ): Promise<BlobUploadResult> {
    try {
      checkRepository(this.host, repository);
      for (const from of options.mountFrom ?? []) checkRepository(this.host, from);
      checkDigestArg(repository, descriptor.digest);
    } catch (e) {
      if (!(content instanceof Uint8Array)) void content.cancel().catch(() => {});
      return Promise.reject(e);
    }
    return uploadBlob(this, repository, descriptor, content, options);
  }

  /**
   * Cross-repository mount (`POST ?mount=&from=`): true when the registry linked the blob (201). When it opens an
   * upload session instead (202), the session is cancelled and false returned.
   */
  async mountBlob(
    repository: string,
    digest: Digest | string,
    from: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<boolean> {
    checkRepository(this.host, repository);
    checkRepository(this.host, from);
    checkDigestArg(repository, digest);
    const scopes = [pushScope(repository), `repository:${from}:pull`];
    const r = await mountOrStart(this, repository, digest, from, scopes, options.signal);
    if (r === 'mounted') return true;
    await cancelUpload(this, repository, r.location, options.signal).catch(() => {});
    return false;
  }

  /**
   * `PUT` a manifest with its exact bytes under a tag or its digest. The registry's `Docker-Content-Digest` must
   * equal the digest of the bytes. A manifest with a `subject` on a registry without the referrers API
   * (no `OCI-Subject` in the answer) is also added to the fallback tag `sha256-<hex>`.
   * @returns the digest of the bytes
   */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<Digest> {
    checkRepository(this.host, repository);
    checkReference(repository, reference);
    const digest = hash(bytes);
    if (isDigest(reference) && reference !== digest) {
      throw new DigestInvalidError(
        `manifest for ${this.host}/${repository}@${reference}: its bytes hash to ${digest}; not pushed`,
      );
    }
    if (bytes.byteLength > MAX_MANIFEST_SIZE) {
      throw new RegistryUsageError(
        'SIZE_INVALID',
        `manifest ${digest} is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_SIZE}-byte limit registries accept`,
      );
    }
    const subject: RequestSubject = { kind: 'manifest', host: this.host, repository, reference };
    const res = await this.request({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { 'content-type': mediaType },
      body: bytes,
      scopes: [pushScope(repository)],
      subject,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await discard(res);
    const got = res.headers.get('docker-content-digest');
    if (got && got !== digest) {
      throw new RegistryProtocolError(
        'DIGEST_INVALID',
        `manifest ${this.host}/${repository}:${reference}: the registry stored it as ${got}, its bytes hash to ${digest}`,
        subject,
      );
    }
    const subjectDigest = manifestSubject(bytes);
    if (subjectDigest && !res.headers.get('oci-subject')) {
      await addReferrerFallback(
        this,
        repository,
        subjectDigest,
        { mediaType, digest, size: bytes.byteLength, ...referrerFields(bytes) },
        options.signal,
      );
    }
    return digest;
  }

  /** `DELETE` a manifest by digest (tags: registries that allow it). */
  async deleteManifest(repository: string, reference: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkRepository(this.host, repository);
    checkReference(repository, reference);
    const res = await this.request({
      method: 'DELETE',
      path: `/v2/${repository}/manifests/${reference}`,
      scopes: [`repository:${repository}:delete`],
      subject: { kind: 'manifest', repository, reference },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await discard(res);
  }

  // ---- listings ----

  /** Pages of `GET /v2/NAME/tags/list?n=&last=`, following `Link` headers. */
  async *tagPages(repository: string, options: ListOptions = {}): AsyncGenerator<string[]> {
    checkRepository(this.host, repository);
    const q = listQuery(options);
    yield* paginate(
      this,
      `/v2/${repository}/tags/list${q}`,
      'tags',
      [`repository:${repository}:pull`],
      { kind: 'tags', repository },
      options.signal,
    );
  }

  /** Every tag of a repository (all pages). */
  async listTags(repository: string, options: ListOptions = {}): Promise<string[]> {
    const out: string[] = [];
    for await (const page of this.tagPages(repository, options)) out.push(...page);
    return out;
  }

  /** Pages of `GET /v2/_catalog?n=&last=`, following `Link` headers. */
  async *catalogPages(options: ListOptions = {}): AsyncGenerator<string[]> {
    yield* paginate(
      this,
      `/v2/_catalog${listQuery(options)}`,
      'repositories',
      [CATALOG_SCOPE],
      { kind: 'catalog' },
      options.signal,
    );
  }

  /** Every repository of the registry's catalog (all pages). */
  async catalog(options: ListOptions = {}): Promise<string[]> {
    const out: string[] = [];
    for await (const page of this.catalogPages(options)) out.push(...page);
    return out;
  }

  /**
   * The manifests that refer to `digest` (signatures, SBOMs): the referrers API
   * (`GET /v2/NAME/referrers/DIGEST`), else the fallback tag `sha256-<hex>`. Optionally filtered by artifact type.
   */
  async referrers(
    repository: string,
    digest: Digest | string,
    options: { artifactType?: string; signal?: AbortSignal } = {},
  ): Promise<Descriptor[]> {
    checkRepository(this.host, repository);
    checkDigestArg(repository, digest);
    return listReferrers(this, repository, digest, options);
  }

  /** `DELETE` a blob (registries may refuse: UNSUPPORTED). */
  async deleteBlob(repository: string, digest: Digest | string, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkRepository(this.host, repository);
    checkDigestArg(repository, digest);
    const res = await this.request({
      method: 'DELETE',
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: [`repository:${repository}:delete`],
      subject: { kind: 'blob', repository, reference: digest },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await discard(res);
  }
}

function contentType(res: HttpResponse): string | undefined {
  const ct = res.headers.get('content-type');
  if (!ct) return undefined;
  const base = ct.split(';')[0]!.trim().toLowerCase();
  if (!base || base === 'application/json' || base === 'text/plain' || base === 'application/octet-stream')
    return undefined;
  return base;
}

// A registry that serves manifests as application/json: the body's own mediaType says what it is.
function bodyMediaType(bytes: Uint8Array): string {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as { mediaType?: unknown; manifests?: unknown };
    if (typeof json.mediaType === 'string' && json.mediaType) return json.mediaType;
    return Array.isArray(json.manifests)
      ? 'application/vnd.oci.image.index.v1+json'
      : 'application/vnd.oci.image.manifest.v1+json';
  } catch {
    return 'application/vnd.oci.image.manifest.v1+json';
  }
}

/** Reads a response body of at most `limit` bytes; larger bodies are refused without reading them whole. */
export async function readLimited(
  res: HttpResponse,
  limit: number,
  what: string,
  subject: RequestSubject,
): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await discard(res);
    throw new RegistryProtocolError(
      'SIZE_INVALID',
      `${what} is ${declared} bytes, over the ${limit}-byte limit; refusing to read it`,
      subject,
    );
  }
  if (!res.body) return new Uint8Array(0);
  const bytes = await readBounded(
    res.body,
    limit,
    () =>
      new RegistryProtocolError(
        'SIZE_INVALID',
        `${what} is over the ${limit}-byte limit; refusing to read it`,
        subject,
      ),
  );
  if (Number.isFinite(declared) && declared !== bytes.byteLength) {
    throw new SizeInvalidError(`${what}: received ${bytes.byteLength} of ${declared} bytes; retry`);
  }
  return bytes;
}
