import { Registry as RegistryClient, UnauthorizedError } from '@lade/registry-client';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistry,
  type Htpasswd,
  parseHtpasswd,
  type Registry,
  type RunningServer,
  serve,
  signJwt,
  tokenAuth,
  verifyJwt,
} from '../src/index.js';
import { call, postToken, pushImage } from './helpers.js';

const KEY = { algorithm: 'HS256' as const, secret: 'oauth-test-secret' };
const SERVICE = 'lade-oauth';
const ISSUER = 'lade-oauth-issuer';
const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const policy = [
  { accounts: ['alice'], repositories: ['alice/**'], actions: ['pull' as const, 'push' as const] },
  { accounts: ['bob'], repositories: ['bob/**'], actions: ['pull' as const, 'push' as const] },
  { accounts: ['anonymous'], repositories: ['public/*'], actions: ['pull' as const] },
];

function makeUsers(): { table: Map<string, string>; get: () => Htpasswd } {
  const table = new Map(
    parseHtpasswd(`alice:${bcrypt.hashSync('wonderland', 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`),
  );
  return { table, get: () => table };
}

function make(extra: { service?: string; refreshExpiresIn?: number; users?: () => Htpasswd } = {}): Registry {
  return createRegistry({
    auth: tokenAuth({
      service: extra.service ?? SERVICE,
      issuer: ISSUER,
      key: KEY,
      users: extra.users ?? makeUsers().get,
      policy,
      ...(extra.refreshExpiresIn !== undefined ? { refreshExpiresIn: extra.refreshExpiresIn } : {}),
    }),
  });
}

interface TokenBody {
  access_token?: string;
  token?: string;
  refresh_token?: string;
  scope?: string;
  expires_in?: number;
  issued_at?: string;
  error?: string;
  errors?: { code: string; message: string }[];
}

async function post(registry: Registry, form: Record<string, string>): Promise<{ status: number; body: TokenBody }> {
  const res = await postToken(registry, form);
  return { status: res.status, body: (await res.json()) as TokenBody };
}

const passwordGrant = (extra: Record<string, string> = {}) => ({
  grant_type: 'password',
  username: 'alice',
  password: 'wonderland',
  service: SERVICE,
  client_id: 'lade-tests',
  ...extra,
});

const refreshGrant = (refresh: string, extra: Record<string, string> = {}) => ({
  grant_type: 'refresh_token',
  refresh_token: refresh,
  service: SERVICE,
  client_id: 'lade-tests',
  ...extra,
});

function expectInvalidGrant(r: { status: number; body: TokenBody }): void {
  expect(r.status).toBe(401);
  expect(r.body.errors?.[0]?.code).toBe('UNAUTHORIZED');
  expect(r.body.error).toBe('invalid_grant');
  expect(r.body.access_token).toBeUndefined();
  expect(r.body.refresh_token).toBeUndefined();
}

describe('OAuth2 token endpoint (POST /token): password and refresh_token grants', () => {
  it('password grant with access_type=offline returns a refresh token, the granted scope and a working access token', async () => {
    const registry = make();
    const r = await post(registry, passwordGrant({ access_type: 'offline', scope: 'repository:alice/app:pull,push' }));
    expect(r.status).toBe(200);
    expect(r.body.access_token).toBeTruthy();
    expect(r.body.scope).toBe('repository:alice/app:pull,push');
    expect(r.body.expires_in).toBeGreaterThanOrEqual(60);
    expect(Number.isNaN(Date.parse(r.body.issued_at ?? ''))).toBe(false);
    expect(r.body.refresh_token).toBeTruthy();
    expect(r.body.refresh_token).not.toBe(r.body.access_token);
    const authed: Registry = {
      ...registry,
      fetch: (req) => {
        const h = new Headers(req.headers);
        h.set('Authorization', `Bearer ${r.body.access_token}`);
        return registry.fetch(new Request(req, { headers: h }));
      },
    };
    const image = await pushImage(authed, 'alice/app', 'v1');
    expect(
      (
        await call(registry, 'GET', '/v2/alice/app/manifests/v1', {
          headers: { Authorization: `Bearer ${r.body.access_token}` },
        })
      ).text,
    ).toBe(image.manifest);
  });

  it('password grant without access_type (online) returns no refresh token', async () => {
    const registry = make();
    for (const extra of [{}, { access_type: 'online' }]) {
      const r = await post(registry, passwordGrant(extra));
      expect(r.status).toBe(200);
      expect(r.body.access_token).toBeTruthy();
      expect(r.body.refresh_token).toBeUndefined();
      expect(r.body.scope).toBe('');
    }
  });

  it('refresh_token grant issues access tokens for other scopes of the same account and returns the same refresh token', async () => {
    const registry = make();
    const first = await post(registry, passwordGrant({ access_type: 'offline' }));
    const refresh = first.body.refresh_token!;
    const r = await post(registry, refreshGrant(refresh, { scope: 'repository:alice/other:pull' }));
    expect(r.status).toBe(200);
    expect(r.body.refresh_token).toBe(refresh);
    expect(r.body.scope).toBe('repository:alice/other:pull');
    const claims = verifyJwt(r.body.access_token!, KEY) as { sub: string; aud: string; access: unknown[] };
    expect(claims.sub).toBe('alice');
    expect(claims.aud).toBe(SERVICE);
    expect(claims.access).toEqual([{ type: 'repository', name: 'alice/other', actions: ['pull'] }]);
    const tags = await call(registry, 'GET', '/v2/alice/other/tags/list', {
      headers: { Authorization: `Bearer ${r.body.access_token}` },
    });
    expect(tags.status).toBe(404);
    expect(tags.json().errors[0].code).toBe('NAME_UNKNOWN');
    // access_type=offline on a refresh grant still returns the same token, never a new one
    const again = await post(registry, refreshGrant(refresh, { access_type: 'offline' }));
    expect(again.body.refresh_token).toBe(refresh);
  });

  it("a refresh token is bound to its account: bob's refresh token gets nothing in alice's repositories", async () => {
    const registry = make();
    const bob = await post(registry, passwordGrant({ username: 'bob', password: 'builder', access_type: 'offline' }));
    const r = await post(
      registry,
      refreshGrant(bob.body.refresh_token!, { scope: 'repository:alice/app:pull repository:bob/app:pull' }),
    );
    expect(r.status).toBe(200);
    expect(r.body.scope).toBe('repository:bob/app:pull');
    expect((verifyJwt(r.body.access_token!, KEY) as { sub: string }).sub).toBe('bob');
    const read = await call(registry, 'GET', '/v2/alice/app/tags/list', {
      headers: { Authorization: `Bearer ${r.body.access_token}` },
    });
    expect(read.status).toBe(403);
    expect(read.json().errors[0].code).toBe('DENIED');
  });

  it('refuses bad refresh tokens with 401 UNAUTHORIZED / invalid_grant: garbage, forged, access token, other service, other issuer', async () => {
    const registry = make();
    const now = Math.floor(Date.now() / 1000);
    const access = await post(registry, passwordGrant({ access_type: 'offline' }));
    const foreign = make({ service: 'elsewhere' });
    const foreignRefresh = (await post(foreign, passwordGrant({ service: 'elsewhere', access_type: 'offline' }))).body
      .refresh_token!;
    const otherIssuer = createRegistry({
      auth: tokenAuth({ service: SERVICE, issuer: 'mallory', key: KEY, users: makeUsers().get, policy }),
    });
    const otherIssuerRefresh = (await post(otherIssuer, passwordGrant({ access_type: 'offline' }))).body.refresh_token!;
    const forged = (await post(registry, passwordGrant({ access_type: 'offline' }))).body.refresh_token!.replace(
      /\.[^.]+$/,
      `.${Buffer.from('forged-signature').toString('base64url')}`,
    );
    const wrongKey = signJwt(
      { iss: ISSUER, sub: 'alice', aud: SERVICE, exp: now + 3600, token_use: 'refresh' },
      { algorithm: 'HS256', secret: 'not-the-key' },
    );
    for (const bad of [
      'kas9Da81Dfa8',
      forged,
      wrongKey,
      access.body.access_token!,
      foreignRefresh,
      otherIssuerRefresh,
    ]) {
      expectInvalidGrant(await post(registry, refreshGrant(bad, { scope: 'repository:alice/app:pull' })));
    }
  });

  it('refresh tokens expire', async () => {
    const registry = make({ refreshExpiresIn: 1 });
    const refresh = (await post(registry, passwordGrant({ access_type: 'offline' }))).body.refresh_token!;
    expect((verifyJwt(refresh, KEY) as { exp: number; iat: number }).exp).toBeLessThanOrEqual(
      Math.floor(Date.now() / 1000) + 1,
    );
    expect((await post(registry, refreshGrant(refresh))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expectInvalidGrant(await post(registry, refreshGrant(refresh)));
  });

  it('a refresh token stops working when its account is removed from the user table', async () => {
    const users = makeUsers();
    const registry = make({ users: users.get });
    const refresh = (await post(registry, passwordGrant({ access_type: 'offline' }))).body.refresh_token!;
    expect((await post(registry, refreshGrant(refresh))).status).toBe(200);
    users.table.delete('alice');
    expectInvalidGrant(await post(registry, refreshGrant(refresh)));
  });

  it("changing an account's password revokes its refresh tokens; the other accounts' keep working", async () => {
    const users = makeUsers();
    const registry = make({ users: users.get });
    const alice = (await post(registry, passwordGrant({ access_type: 'offline' }))).body.refresh_token!;
    const bob = (await post(registry, passwordGrant({ username: 'bob', password: 'builder', access_type: 'offline' })))
      .body.refresh_token!;
    users.table.set('alice', bcrypt.hashSync('new-password', 4));
    expectInvalidGrant(await post(registry, refreshGrant(alice)));
    expect((await post(registry, refreshGrant(bob))).status).toBe(200);
    const fresh = await post(registry, passwordGrant({ password: 'new-password', access_type: 'offline' }));
    expect((await post(registry, refreshGrant(fresh.body.refresh_token!))).status).toBe(200);
  });

  it('a refresh token is not accepted as a Bearer access token', async () => {
    const registry = make();
    const refresh = (await post(registry, passwordGrant({ access_type: 'offline' }))).body.refresh_token!;
    const r = await call(registry, 'GET', '/v2/', { headers: { Authorization: `Bearer ${refresh}` } });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('answers malformed token requests with the token server errors and issues nothing', async () => {
    const registry = make();
    const cases: [Record<string, string>, number, string][] = [
      [{ ...passwordGrant(), grant_type: '' }, 400, 'MISSING_REQUIRED_FIELD'],
      [{ ...passwordGrant(), service: '' }, 400, 'MISSING_REQUIRED_FIELD'],
      [{ ...passwordGrant(), client_id: '' }, 400, 'MISSING_REQUIRED_FIELD'],
      [passwordGrant({ grant_type: 'authorization_code' }), 400, 'UNSUPPORTED_VALUE'],
      [passwordGrant({ access_type: 'forever' }), 400, 'UNSUPPORTED_VALUE'],
      [passwordGrant({ username: '' }), 400, 'UNSUPPORTED_VALUE'],
      [passwordGrant({ password: '' }), 400, 'UNSUPPORTED_VALUE'],
      [refreshGrant(''), 400, 'UNSUPPORTED_VALUE'],
      [passwordGrant({ service: 'elsewhere' }), 400, 'DENIED'],
      [passwordGrant({ password: 'wrong', access_type: 'offline' }), 401, 'UNAUTHORIZED'],
    ];
    for (const [form, status, code] of cases) {
      const r = await post(registry, form);
      expect({ form, status: r.status, code: r.body.errors?.[0]?.code }).toEqual({ form, status, code });
      expect(r.body.access_token).toBeUndefined();
      expect(r.body.refresh_token).toBeUndefined();
    }
  });
});

describe('GET /token with offline_token', () => {
  const get = async (registry: Registry, query: string, auth?: [string, string]) => {
    const res = await registry.fetch(
      new Request(`http://registry.test/token?service=${SERVICE}&${query}`, {
        headers: auth ? { Authorization: basic(...auth) } : {},
      }),
    );
    return { status: res.status, body: (await res.json()) as TokenBody };
  };

  it('returns a refresh token for offline_token=true with credentials, usable with the refresh_token grant', async () => {
    const registry = make();
    const r = await get(registry, 'offline_token=true&client_id=docker&scope=repository:alice/app:pull', [
      'alice',
      'wonderland',
    ]);
    expect(r.status).toBe(200);
    expect(r.body.token).toBeTruthy();
    expect(r.body.refresh_token).toBeTruthy();
    const refreshed = await post(registry, refreshGrant(r.body.refresh_token!, { scope: 'repository:alice/app:push' }));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.scope).toBe('repository:alice/app:push');
  });

  it('returns no refresh token without offline_token, or for anonymous requests', async () => {
    const registry = make();
    expect((await get(registry, 'scope=repository:alice/app:pull', ['alice', 'wonderland'])).body.refresh_token).toBe(
      undefined,
    );
    expect((await get(registry, 'offline_token=false', ['alice', 'wonderland'])).body.refresh_token).toBeUndefined();
    const anon = await get(registry, 'offline_token=true&scope=repository:public/x:pull');
    expect(anon.status).toBe(200);
    expect(anon.body.token).toBeTruthy();
    expect(anon.body.refresh_token).toBeUndefined();
  });

  it('refuses an offline_token that is not a boolean with 400 BAD_TOKEN_OPTION', async () => {
    const r = await get(make(), 'offline_token=sometimes', ['alice', 'wonderland']);
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0]?.code).toBe('BAD_TOKEN_OPTION');
    expect(r.body.token).toBeUndefined();
  });
});

describe("lade's registry client logs in and pulls with the identity token (Node adapter)", () => {
  let server: RunningServer;
  let host: string;
  let registry: Registry;

  beforeAll(async () => {
    registry = make();
    server = await serve({ port: 0, registry });
    host = new URL(server.url).host;
    const t = await post(registry, passwordGrant({ scope: 'repository:alice/app:pull,push' }));
    await pushImage(
      {
        ...registry,
        fetch: (req) => {
          const h = new Headers(req.headers);
          h.set('Authorization', `Bearer ${t.body.access_token}`);
          return registry.fetch(new Request(req, { headers: h }));
        },
      },
      'alice/app',
      'v1',
    );
  });
  afterAll(async () => {
    await server?.close();
  });

  it('login returns an identity token; a client holding only it pulls; a bogus identity token is refused', async () => {
    const login = new RegistryClient(host);
    const { identityToken } = await login.login({ username: 'alice', password: 'wonderland' });
    await login.close();
    expect(identityToken).toBeTruthy();
    expect((verifyJwt(identityToken!, KEY) as { sub: string }).sub).toBe('alice');
    const client = new RegistryClient(host, { credentials: { identityToken: identityToken! } });
    try {
      const m = await client.getManifest('alice/app', 'v1');
      expect(m.descriptor.size).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
    const bogus = new RegistryClient(host, { credentials: { identityToken: 'not-a-refresh-token' } });
    try {
      await expect(bogus.getManifest('alice/app', 'v1')).rejects.toBeInstanceOf(UnauthorizedError);
    } finally {
      await bogus.close();
    }
  });
});
