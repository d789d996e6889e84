import type { AuthChallenge } from './challenge.js';
import type { Credentials } from './credentials.js';
import { RegistryProtocolError, registryErrorFrom, UnauthorizedError } from './errors.js';
import { connectionError, type HttpResponse, type HttpTransport, readText } from './http.js';

/** A bearer token as a token service returned it. */
export interface BearerToken {
  readonly token: string;
  /** Epoch milliseconds after which the token is not used any more. */
  readonly expiresAt: number;
  /** An OAuth2 refresh token, when the service issued one (docker login stores it as `identitytoken`). */
  readonly refreshToken?: string;
}

/** The scope of pulling from a repository: `repository:NAME:pull`. */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

/** The scope of pushing to a repository: `repository:NAME:pull,push`. */
export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/** The scope of listing a registry's catalog. */
export const CATALOG_SCOPE = 'registry:catalog:*';

/** The header value of HTTP basic credentials. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

// Tokens are dropped this long before they expire, so a request never leaves with one about to lapse.
const EXPIRY_MARGIN_MS = 5_000;
// distribution's token spec: a token without expires_in lives 60 seconds.
const DEFAULT_TOKEN_LIFETIME_S = 60;

/** What a token request needs. */
export interface TokenRequest {
  readonly challenge: AuthChallenge;
  readonly scopes: readonly string[];
  readonly credentials: Credentials | undefined;
  readonly transport: HttpTransport;
  readonly userAgent: string;
  readonly host: string;
  readonly signal?: AbortSignal;
  /** Ask for a refresh token too (docker login). */
  readonly offline?: boolean;
}

/**
 * Fetches a bearer token from the challenge's realm: `POST` the OAuth2 form when an identity token is held
 * (falling back to `GET` when the service does not support it), else `GET realm?service=&scope=` with basic credentials.
 */
export async function fetchBearerToken(req: TokenRequest): Promise<BearerToken> {
  const realm = req.challenge.params.realm;
  if (!realm)
    throw new RegistryProtocolError(
      'UNKNOWN',
      `${req.host} sent a Bearer challenge without a realm; the registry is misconfigured`,
      { host: req.host },
    );
  let url: URL;
  try {
    url = new URL(realm);
  } catch (e) {
    throw new RegistryProtocolError('UNKNOWN', `${req.host} sent a Bearer challenge with an invalid realm "${realm}"`, {
      host: req.host,
      cause: e,
    });
  }
  const service = req.challenge.params.service;
  const creds = req.credentials;
  if (creds?.identityToken) {
    const form = new URLSearchParams();
    form.set('grant_type', 'refresh_token');
    form.set('refresh_token', creds.identityToken);
    form.set('client_id', 'lade');
    if (service) form.set('service', service);
    if (req.scopes.length) form.set('scope', req.scopes.join(' '));
    if (req.offline) form.set('access_type', 'offline');
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': req.userAgent,
    };
    const res = await send(req, 'POST', url.toString(), headers, new TextEncoder().encode(form.toString()));
    // Token services without OAuth answer 404/405 to a POST: fall back to GET.
    if (res.status !== 404 && res.status !== 405) return tokenFrom(res, req, url.toString());
    await readText(res);
  }
  for (const s of req.scopes) url.searchParams.append('scope', s);
  if (service) url.searchParams.set('service', service);
  const headers: Record<string, string> = { 'user-agent': req.userAgent };
  if (creds?.username !== undefined && creds.password !== undefined) {
    headers.authorization = basicAuthorization(creds.username, creds.password);
    url.searchParams.set('account', creds.username);
    if (req.offline) {
      url.searchParams.set('offline_token', 'true');
      url.searchParams.set('client_id', 'lade');
    }
  }
  const res = await send(req, 'GET', url.toString(), headers);
  return tokenFrom(res, req, url.toString());
}

async function send(
  req: TokenRequest,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: Uint8Array,
): Promise<HttpResponse> {
  try {
    return await req.transport.send({
      method,
      url,
      headers,
      ...(body ? { body } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    });
  } catch (e) {
    if (req.signal?.aborted) throw req.signal.reason;
    throw connectionError(e, method, url, { host: new URL(url).host });
  }
}

async function tokenFrom(res: HttpResponse, req: TokenRequest, url: string): Promise<BearerToken> {
  const text = await readText(res, 1024 * 1024);
  if (res.status === 401 || res.status === 403) {
    const err = registryErrorFrom(res.status, text, { kind: 'token', host: req.host, url, method: 'GET' });
    throw new UnauthorizedError(
      'UNAUTHORIZED',
      `the token service of ${req.host} refused the credentials (${err.registryMessage}); log in again with 'lade login ${req.host}'`,
      { status: res.status, errors: err.errors, host: req.host, url },
    );
  }
  if (res.status < 200 || res.status >= 300) {
    throw registryErrorFrom(res.status, text, { kind: 'token', host: req.host, url, method: 'GET' });
  }
  let json: {
    token?: unknown;
    access_token?: unknown;
    expires_in?: unknown;
    issued_at?: unknown;
    refresh_token?: unknown;
  };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    throw new RegistryProtocolError('UNKNOWN', `the token service of ${req.host} answered invalid JSON`, {
      host: req.host,
      url,
      cause: e,
    });
  }
  const token = typeof json.access_token === 'string' && json.access_token ? json.access_token : json.token;
  if (typeof token !== 'string' || !token) {
    throw new RegistryProtocolError('UNKNOWN', `the token service of ${req.host} answered without a token`, {
      host: req.host,
      url,
    });
  }
  const lifetime =
    typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : DEFAULT_TOKEN_LIFETIME_S;
  const issued = typeof json.issued_at === 'string' ? Date.parse(json.issued_at) : Number.NaN;
  // Trust the service's issued_at only when it is close to our clock; skewed clocks otherwise expire tokens early.
  const start = !Number.isNaN(issued) && Math.abs(issued - Date.now()) < 60_000 ? issued : Date.now();
  return {
    token,
    expiresAt: start + lifetime * 1000 - Math.min(EXPIRY_MARGIN_MS, (lifetime * 1000) / 2),
    ...(typeof json.refresh_token === 'string' && json.refresh_token ? { refreshToken: json.refresh_token } : {}),
  };
}
