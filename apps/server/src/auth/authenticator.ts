import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { RegistryError } from '../errors.js';
import { readLimited } from '../registry-store.js';
import {
  type Access,
  type AccessPolicy,
  type Action,
  AUTHENTICATED_FULL_ACCESS,
  allowedActions,
  covers,
  formatScope,
  parseScopes,
} from './access.js';
import { type JwtKey, signJwt, verifyJwt } from './jwt.js';

/** Who a request is and what it may do. */
export interface Grant {
  /** The authenticated account, or undefined for anonymous requests. */
  readonly account?: string;
  /** True when the request may perform `action` on the resource. */
  can(type: Access['type'], name: string, action: Action): boolean;
}

/**
 * Decides whether a request may perform the accesses a route needs. Throws a RegistryError
 * (401 UNAUTHORIZED with a challenge, or 403 DENIED) when it may not.
 */
export interface Authenticator {
  authorize(request: Request, needed: readonly Access[]): Promise<Grant>;
  /** Serves the authenticator's own endpoints (the token service's `/token`); undefined when the path is not its own. */
  handle?(request: Request, url: URL): Promise<Response | undefined>;
}

/** Everything is allowed: the default. */
export const noAuth: Authenticator = Object.freeze({
  async authorize(): Promise<Grant> {
    return { can: () => true };
  },
});

/** A map of user → bcrypt hash (htpasswd `-B` format). */
export type Htpasswd = ReadonlyMap<string, string>;

/** Parses htpasswd content; only bcrypt entries (`$2a$`, `$2b$`, `$2y$`) are accepted, as distribution does. */
export function parseHtpasswd(text: string): Htpasswd {
  const users = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const i = t.indexOf(':');
    if (i <= 0) continue;
    const hash = t.slice(i + 1);
    if (/^\$2[aby]\$/.test(hash)) users.set(t.slice(0, i), hash);
  }
  return users;
}

/** Checks user/password pairs against an htpasswd table, caching successes briefly (bcrypt is slow by design). */
export class PasswordChecker {
  readonly #users: () => Htpasswd;
  readonly #ok = new Map<string, number>();
  constructor(users: Htpasswd | (() => Htpasswd)) {
    this.#users = typeof users === 'function' ? users : () => users;
  }
  /**
   * A short fingerprint of the account's password hash (undefined when the account is not in the table): refresh
   * tokens carry it, so changing a password or removing the account revokes them.
   */
  stamp(user: string): string | undefined {
    const hash = this.#users().get(user);
    return hash === undefined ? undefined : createHash('sha256').update(hash).digest('hex').slice(0, 16);
  }
  async check(user: string, password: string): Promise<boolean> {
    const hash = this.#users().get(user);
    if (!hash) return false;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    const until = this.#ok.get(key);
    if (until !== undefined && until > Date.now()) return true;
    const ok = await bcrypt.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
    if (ok) {
      if (this.#ok.size > 10_000) this.#ok.clear();
      this.#ok.set(key, Date.now() + 60_000);
    }
    return ok;
  }
}

/** Loads an htpasswd file, re-reading it when it changes on disk (checked at most once a second). */
export function htpasswdFile(path: string): () => Htpasswd {
  let cached = parseHtpasswd(readFileSync(path, 'utf8'));
  let checked = Date.now();
  let text = '';
  return () => {
    if (Date.now() - checked > 1000) {
      checked = Date.now();
      try {
        const now = readFileSync(path, 'utf8');
        if (now !== text) {
          text = now;
          cached = parseHtpasswd(now);
        }
      } catch {
        // Keep the last good table when the file is briefly missing (an editor's atomic save).
      }
    }
    return cached;
  };
}

/** Decodes `Authorization: Basic …`; undefined when absent or malformed. */
export function basicCredentials(request: Request): { user: string; password: string } | undefined {
  const h = request.headers.get('authorization');
  if (!h || !/^basic /i.test(h)) return undefined;
  let decoded: string;
  try {
    decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  } catch {
    return undefined;
  }
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { user: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

function policyGrant(policy: AccessPolicy, account: string | undefined): Grant {
  const cache = new Map<string, Set<Action>>();
  return {
    ...(account !== undefined ? { account } : {}),
    can(type, name, action) {
      const key = `${type}\n${name}`;
      let set = cache.get(key);
      if (!set) {
        set = allowedActions(policy, account, type, name);
        cache.set(key, set);
      }
      return covers(set, action);
    },
  };
}

function firstMissing(grant: Grant, needed: readonly Access[]): Access | undefined {
  for (const a of needed) for (const act of a.actions) if (!grant.can(a.type, a.name, act)) return a;
  return undefined;
}

/** Options of htpasswd basic authentication. */
export interface BasicAuthOptions {
  readonly realm: string;
  readonly users: Htpasswd | (() => Htpasswd);
  /** Who may do what; default: every authenticated user everything. */
  readonly policy?: AccessPolicy;
}

/** HTTP basic authentication against an htpasswd table, as distribution's `auth.htpasswd`. */
export function basicAuth(options: BasicAuthOptions): Authenticator {
  const checker = new PasswordChecker(options.users);
  const policy = options.policy ?? AUTHENTICATED_FULL_ACCESS;
  const challenge = { 'WWW-Authenticate': `Basic realm="${options.realm}"` };
  return {
    async authorize(request, needed) {
      const creds = basicCredentials(request);
      let account: string | undefined;
      if (creds) {
        if (!(await checker.check(creds.user, creds.password))) {
          throw new RegistryError('UNAUTHORIZED', 'authentication required: the user name or password is wrong', {
            headers: challenge,
          });
        }
        account = creds.user;
      }
      const grant = policyGrant(policy, account);
      const missing = firstMissing(grant, needed);
      if (!missing && (account !== undefined || needed.length > 0)) return grant;
      if (account === undefined) {
        throw new RegistryError('UNAUTHORIZED', 'authentication required: log in to this registry', {
          headers: challenge,
          detail: missing ? [{ Type: missing.type, Name: missing.name, Action: missing.actions.join(',') }] : undefined,
        });
      }
      throw new RegistryError(
        'DENIED',
        `${account} may not ${missing!.actions.join('/')} ${missing!.name}; ask an administrator for access`,
        {
          detail: [{ Type: missing!.type, Name: missing!.name, Action: missing!.actions.join(',') }],
        },
      );
    },
  };
}

/** Options of token authentication (distribution's `auth.token`), optionally with the built-in token service. */
export interface TokenAuthOptions {
  /** Where clients get tokens; default: this registry's own `/token`. */
  readonly realm?: string;
  readonly service: string;
  readonly issuer: string;
  /** The signing key (when this registry issues tokens) or just the verification key. */
  readonly key: JwtKey;
  /** Serve `/token` here (the built-in token service). Default true. */
  readonly issue?: boolean;
  /** Accounts of the built-in token service. */
  readonly users?: Htpasswd | (() => Htpasswd);
  /** Who may do what; default: every authenticated user everything. */
  readonly policy?: AccessPolicy;
  /** Token lifetime in seconds (default 300). */
  readonly expiresIn?: number;
  /**
   * Lifetime of refresh tokens (docker's `identitytoken`, issued for `access_type=offline` or `offline_token=true`)
   * in seconds; default 90 days. They are signed with `key`, bound to the account and `service`, and stop working
   * when the account leaves the user table or its password changes.
   */
  readonly refreshExpiresIn?: number;
}

interface TokenClaims {
  readonly iss?: string;
  readonly sub?: string;
  readonly aud?: string | string[];
  readonly exp?: number;
  readonly nbf?: number;
  readonly access?: { type: string; name: string; actions: string[] }[];
}

/** Bearer-token authentication with distribution's token protocol; with `issue`, also the token service itself. */
export function tokenAuth(options: TokenAuthOptions): Authenticator {
  const policy = options.policy ?? AUTHENTICATED_FULL_ACCESS;
  const checker = options.users ? new PasswordChecker(options.users) : undefined;
  const issue = options.issue ?? true;
  const lifetime = options.expiresIn ?? 300;
  const refreshLifetime = options.refreshExpiresIn ?? 90 * 24 * 3600;

  const realmFor = (request: Request) => options.realm ?? `${new URL(request.url).origin}/token`;
  const challenge = (request: Request, needed: readonly Access[], error?: string) => {
    let h = `Bearer realm="${realmFor(request)}",service="${options.service}"`;
    if (needed.length) h += `,scope="${formatScope(needed)}"`;
    if (error) h += `,error="${error}"`;
    return { 'WWW-Authenticate': h };
  };

  return {
    async authorize(request, needed) {
      const h = request.headers.get('authorization');
      if (!h || !/^bearer /i.test(h)) {
        throw new RegistryError(
          'UNAUTHORIZED',
          'authentication required: get a token from the realm in WWW-Authenticate',
          {
            headers: challenge(request, needed),
          },
        );
      }
      let claims: TokenClaims;
      try {
        claims = verifyJwt(h.slice(7).trim(), options.key) as TokenClaims;
      } catch (err) {
        throw new RegistryError('UNAUTHORIZED', `invalid token: ${(err as Error).message}; get a new token`, {
          headers: challenge(request, needed, 'invalid_token'),
        });
      }
      const now = Math.floor(Date.now() / 1000);
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      const bad =
        (claims as Record<string, unknown>)[REFRESH_USE_CLAIM] === REFRESH_USE
          ? 'a refresh token is not an access token'
          : claims.iss !== options.issuer
            ? 'wrong issuer'
            : !aud.includes(options.service)
              ? 'wrong audience'
              : typeof claims.exp !== 'number' || claims.exp + 60 < now
                ? 'expired'
                : typeof claims.nbf === 'number' && claims.nbf - 60 > now
                  ? 'not yet valid'
                  : undefined;
      if (bad) {
        throw new RegistryError('UNAUTHORIZED', `invalid token: ${bad}; get a new token`, {
          headers: challenge(request, needed, 'invalid_token'),
        });
      }
      const granted = new Map<string, Set<string>>();
      for (const a of claims.access ?? []) granted.set(`${a.type}\n${a.name}`, new Set(a.actions));
      const account = claims.sub || undefined;
      const grant: Grant = {
        ...(account !== undefined ? { account } : {}),
        can(type, name, action) {
          const set = granted.get(`${type}\n${name}`);
          return !!set && (set.has('*') || set.has(action));
        },
      };
      const missing = firstMissing(grant, needed);
      if (!missing) return grant;
      // The token is narrower than the policy allows: ask for a new one. Otherwise the account is not allowed at all.
      const policyAllows = !firstMissing(policyGrant(policy, account), [missing]);
      if (account === undefined || policyAllows) {
        throw new RegistryError(
          'UNAUTHORIZED',
          `token does not grant ${formatScope([missing])}; get a token with that scope`,
          {
            headers: challenge(request, needed, 'insufficient_scope'),
            detail: [{ Type: missing.type, Name: missing.name, Action: missing.actions.join(',') }],
          },
        );
      }
      throw new RegistryError(
        'DENIED',
        `${account} may not ${missing.actions.join('/')} ${missing.name}; ask an administrator for access`,
        {
          detail: [{ Type: missing.type, Name: missing.name, Action: missing.actions.join(',') }],
        },
      );
    },

    async handle(request, url) {
      if (!issue || url.pathname !== '/token') return undefined;
      if (request.method === 'POST') return postToken(request);
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        await request.body?.cancel().catch(() => {});
        return tokenError(405, 'UNSUPPORTED', `${request.method} is not supported on /token; use GET or POST`);
      }
      return getToken(request, url);
    },
  };

  /** Access the policy gives `account` out of the requested scopes (what is not allowed is left out, as distribution does). */
  function grantedAccess(account: string | undefined, scopes: readonly string[]): Access[] {
    const grant = policyGrant(policy, account);
    return parseScopes(scopes)
      .map((a) => ({ type: a.type, name: a.name, actions: a.actions.filter((act) => grant.can(a.type, a.name, act)) }))
      .filter((a) => a.actions.length > 0);
  }

  function accessToken(account: string | undefined, access: readonly Access[], now: number): string {
    return signJwt(
      {
        iss: options.issuer,
        sub: account ?? '',
        aud: options.service,
        exp: now + lifetime,
        nbf: now - 10,
        iat: now,
        jti: crypto.randomUUID(),
        access,
      },
      options.key,
    );
  }

  /** A refresh token: signed like access tokens, bound to the account and service, marked so it is never an access token. */
  function refreshToken(account: string, clientId: string | undefined, now: number): string {
    return signJwt(
      {
        iss: options.issuer,
        sub: account,
        aud: options.service,
        exp: now + refreshLifetime,
        iat: now,
        jti: crypto.randomUUID(),
        [REFRESH_USE_CLAIM]: REFRESH_USE,
        [STAMP_CLAIM]: checker?.stamp(account),
        ...(clientId ? { client_id: clientId } : {}),
      },
      options.key,
    );
  }

  /** The account a refresh token stands for, or why it cannot be used. */
  function checkRefreshToken(token: string, service: string): { account: string } | { bad: string } {
    let claims: TokenClaims & Record<string, unknown>;
    try {
      claims = verifyJwt(token, options.key) as TokenClaims & Record<string, unknown>;
    } catch (err) {
      return { bad: (err as Error).message };
    }
    const now = Math.floor(Date.now() / 1000);
    if (claims[REFRESH_USE_CLAIM] !== REFRESH_USE) return { bad: 'not a refresh token' };
    if (claims.iss !== options.issuer) return { bad: 'wrong issuer' };
    if (claims.aud !== service || service !== options.service) return { bad: `not issued for service "${service}"` };
    if (typeof claims.exp !== 'number' || claims.exp < now) return { bad: 'expired' };
    if (typeof claims.sub !== 'string' || !claims.sub) return { bad: 'no subject' };
    const stamp = checker?.stamp(claims.sub);
    if (stamp === undefined) return { bad: `account ${claims.sub} no longer exists` };
    if (claims[STAMP_CLAIM] !== stamp) return { bad: `the password of ${claims.sub} changed since it was issued` };
    return { account: claims.sub };
  }

  async function getToken(request: Request, url: URL): Promise<Response> {
    const service = url.searchParams.get('service');
    if (service && service !== options.service) return unknownService(service);
    const offlineRaw = url.searchParams.get('offline_token');
    const offline = offlineRaw === null || offlineRaw === '' ? false : parseBool(offlineRaw);
    if (offline === undefined) {
      return tokenError(400, 'BAD_TOKEN_OPTION', `offline_token="${offlineRaw}" is not a boolean; use true or false`);
    }
    let account: string | undefined;
    const creds = basicCredentials(request);
    if (creds) {
      if (!checker || !(await checker.check(creds.user, creds.password))) {
        return tokenError(401, 'UNAUTHORIZED', 'the user name or password is wrong', undefined, {
          'WWW-Authenticate': `Basic realm="${options.service}"`,
        });
      }
      account = creds.user;
    }
    const now = Math.floor(Date.now() / 1000);
    const access = grantedAccess(account, url.searchParams.getAll('scope'));
    const token = accessToken(account, access, now);
    // Only an authenticated subject can hold a refresh token; anonymous requests get just the access token.
    const refresh =
      offline && account !== undefined
        ? refreshToken(account, url.searchParams.get('client_id') ?? undefined, now)
        : undefined;
    return tokenJson({
      token,
      access_token: token,
      expires_in: lifetime,
      issued_at: new Date(now * 1000).toISOString(),
      ...(refresh ? { refresh_token: refresh } : {}),
    });
  }

  /** The OAuth2 token endpoint (distribution's oauth.md): password and refresh_token grants, `access_type=offline`. */
  async function postToken(request: Request): Promise<Response> {
    const form = new URLSearchParams(
      new TextDecoder().decode(await readLimited(request.body, 64 * 1024, 'token request')),
    );
    const field = (name: string) => form.get(name) ?? '';
    const grantType = field('grant_type');
    const service = field('service');
    const clientId = field('client_id');
    if (!grantType) return tokenError(400, 'MISSING_REQUIRED_FIELD', 'missing grant_type value');
    if (!service) return tokenError(400, 'MISSING_REQUIRED_FIELD', 'missing service value');
    if (!clientId) return tokenError(400, 'MISSING_REQUIRED_FIELD', 'missing client_id value');
    const accessType = field('access_type');
    if (accessType !== '' && accessType !== 'online' && accessType !== 'offline') {
      return tokenError(400, 'UNSUPPORTED_VALUE', `unknown access_type "${accessType}"; use online or offline`);
    }
    if (grantType !== 'password' && grantType !== 'refresh_token') {
      return tokenError(400, 'UNSUPPORTED_VALUE', `unknown grant_type "${grantType}"; use password or refresh_token`, {
        error: 'unsupported_grant_type',
      });
    }
    if (service !== options.service) return unknownService(service);
    const now = Math.floor(Date.now() / 1000);
    let account: string;
    let refresh: string | undefined;
    if (grantType === 'refresh_token') {
      const presented = field('refresh_token');
      if (!presented) return tokenError(400, 'UNSUPPORTED_VALUE', 'missing refresh_token value');
      const checked = checkRefreshToken(presented, service);
      if ('bad' in checked) {
        return tokenError(401, 'UNAUTHORIZED', `invalid refresh token (${checked.bad}); log in again`, {
          error: 'invalid_grant',
        });
      }
      account = checked.account;
      // The spec: a refresh_token grant returns the same refresh token, never a new one.
      refresh = presented;
    } else {
      const username = field('username');
      const password = field('password');
      if (!username) return tokenError(400, 'UNSUPPORTED_VALUE', 'missing username value');
      if (!password) return tokenError(400, 'UNSUPPORTED_VALUE', 'missing password value');
      if (!checker || !(await checker.check(username, password))) {
        return tokenError(401, 'UNAUTHORIZED', 'the user name or password is wrong', { error: 'invalid_grant' });
      }
      account = username;
      if (accessType === 'offline') refresh = refreshToken(account, clientId, now);
    }
    const access = grantedAccess(account, form.getAll('scope'));
    const token = accessToken(account, access, now);
    return tokenJson({
      access_token: token,
      token,
      scope: formatScope(access),
      expires_in: lifetime,
      issued_at: new Date(now * 1000).toISOString(),
      ...(refresh ? { refresh_token: refresh } : {}),
    });
  }

  function unknownService(service: string): Response {
    return tokenError(400, 'DENIED', `unknown service "${service}"; use "${options.service}"`);
  }
}

const REFRESH_USE_CLAIM = 'token_use';
const REFRESH_USE = 'refresh';
const STAMP_CLAIM = 'pwd_stamp';

function parseBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  return undefined;
}

function tokenJson(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
  });
}

/**
 * A token-service error: distribution's `{"errors":[…]}` body (what docker and lade's client read), plus RFC 6749's
 * `error`/`error_description` when an OAuth2 error applies (what generic OAuth2 clients read).
 */
function tokenError(
  status: number,
  code: string,
  message: string,
  oauth?: { error: string },
  headers: Record<string, string> = {},
): Response {
  const body = {
    errors: [{ code, message, detail: null }],
    ...(oauth ? { error: oauth.error, error_description: message } : {}),
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
  });
}
