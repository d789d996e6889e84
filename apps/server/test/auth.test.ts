import { generateKeyPairSync } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import {
  basicAuth,
  createRegistry,
  parseHtpasswd,
  type Registry,
  signJwt,
  tokenAuth,
  verifyJwt,
} from '../src/index.js';
import { call, postToken, pushImage, sha256 } from './helpers.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const users = parseHtpasswd(
  `alice:${bcrypt.hashSync('wonderland', 4).replace('$2b$', '$2y$')}\nbob:${bcrypt.hashSync('builder', 4)}\n# comment\nplain:notbcrypt\n`,
);

describe('htpasswd basic auth', () => {
  const registry = createRegistry({ auth: basicAuth({ realm: 'lade-test', users }) });

  it('challenges anonymous requests with 401 UNAUTHORIZED and a Basic challenge', async () => {
    for (const path of ['/v2/', '/v2/app/manifests/latest', '/v2/_catalog']) {
      const r = await call(registry, 'GET', path);
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Basic realm="lade-test"');
      expect(r.json().errors[0].code).toBe('UNAUTHORIZED');
    }
  });

  it('refuses anonymous pushes and writes nothing', async () => {
    const r = await call(registry, 'POST', '/v2/app/blobs/uploads/', { query: { digest: sha256('x') }, body: 'x' });
    expect(r.status).toBe(401);
    expect(await registry.store.repositoryExists('app')).toBe(false);
  });

  it('refuses a wrong password and a non-bcrypt entry', async () => {
    expect((await call(registry, 'GET', '/v2/', { headers: { Authorization: basic('alice', 'nope') } })).status).toBe(
      401,
    );
    expect(
      (await call(registry, 'GET', '/v2/', { headers: { Authorization: basic('plain', 'notbcrypt') } })).status,
    ).toBe(401);
  });

  it('lets users with $2y$ and $2b$ hashes push and pull', async () => {
    const authed: Registry = {
      ...registry,
      fetch: (req) => registry.fetch(withAuth(req, basic('alice', 'wonderland'))),
    };
    const image = await pushImage(authed, 'app', 'v1');
    const r = await call(registry, 'GET', '/v2/app/manifests/v1', {
      headers: { Authorization: basic('bob', 'builder') },
    });
    expect(r.status).toBe(200);
    expect(r.text).toBe(image.manifest);
  });

  it('applies an access policy: an account outside it gets 403 DENIED', async () => {
    const limited = createRegistry({
      auth: basicAuth({
        realm: 'r',
        users,
        policy: [
          { accounts: ['alice'], repositories: ['team/**'], actions: ['*'] },
          { accounts: ['*'], repositories: ['team/**'], actions: ['pull'] },
        ],
      }),
    });
    const r = await call(limited, 'POST', '/v2/team/app/blobs/uploads/', {
      headers: { Authorization: basic('bob', 'builder') },
    });
    expect(r.status).toBe(403);
    expect(r.json().errors[0].code).toBe('DENIED');
    expect(
      (
        await call(limited, 'POST', '/v2/team/app/blobs/uploads/', {
          headers: { Authorization: basic('alice', 'wonderland') },
        })
      ).status,
    ).toBe(202);
    expect(
      (await call(limited, 'GET', '/v2/team/app/tags/list', { headers: { Authorization: basic('bob', 'builder') } }))
        .status,
    ).toBe(200);
  });
});

function withAuth(req: Request, authorization: string): Request {
  const headers = new Headers(req.headers);
  headers.set('Authorization', authorization);
  return new Request(req, { headers });
}

describe('built-in token service', () => {
  const policy = [
    { accounts: ['alice'], repositories: ['alice/**', 'shared/*'], actions: ['pull', 'push', 'delete'] as const },
    { accounts: ['bob'], repositories: ['bob/**'], actions: ['pull', 'push'] as const },
    { accounts: ['*'], repositories: ['shared/*'], actions: ['pull'] as const },
    { accounts: ['anonymous'], repositories: ['public/*'], actions: ['pull'] as const },
  ].map((r) => ({ ...r, actions: [...r.actions] }));
  const make = () =>
    createRegistry({
      auth: tokenAuth({
        service: 'lade-test',
        issuer: 'lade-issuer',
        key: { algorithm: 'HS256', secret: 'test-secret' },
        users,
        policy,
      }),
    });

  async function token(registry: Registry, scope: string | string[], who?: [string, string]): Promise<string> {
    const url = new URL('http://registry.test/token');
    url.searchParams.set('service', 'lade-test');
    for (const s of [scope].flat()) url.searchParams.append('scope', s);
    const res = await registry.fetch(new Request(url, { headers: who ? { Authorization: basic(...who) } : {} }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; access_token: string; expires_in: number };
    expect(body.access_token).toBe(body.token);
    return body.token;
  }
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

  it('challenges with Bearer realm, service and the scope the route needs', async () => {
    const registry = make();
    const r = await call(registry, 'GET', '/v2/alice/app/manifests/latest');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe(
      'Bearer realm="http://registry.test/token",service="lade-test",scope="repository:alice/app:pull"',
    );
    const push = await call(registry, 'POST', '/v2/alice/app/blobs/uploads/');
    expect(push.headers.get('www-authenticate')).toContain('scope="repository:alice/app:pull,push"');
    const cat = await call(registry, 'GET', '/v2/_catalog');
    expect(cat.headers.get('www-authenticate')).toContain('scope="registry:catalog:*"');
  });

  it('issues tokens through the OAuth2 password grant (POST) as well', async () => {
    const registry = make();
    const res = await postToken(registry, {
      grant_type: 'password',
      username: 'alice',
      password: 'wonderland',
      service: 'lade-test',
      client_id: 'lade-test-suite',
      scope: 'repository:alice/app:pull',
    });
    expect(res.status).toBe(200);
    const wrong = await postToken(registry, {
      grant_type: 'password',
      username: 'alice',
      password: 'x',
      service: 'lade-test',
      client_id: 'lade-test-suite',
    });
    expect(wrong.status).toBe(401);
  });

  it('lets a token holder push and pull in its own repository', async () => {
    const registry = make();
    const t = await token(registry, 'repository:alice/app:pull,push', ['alice', 'wonderland']);
    const authed: Registry = { ...registry, fetch: (req) => registry.fetch(withAuth(req, `Bearer ${t}`)) };
    const image = await pushImage(authed, 'alice/app', 'v1');
    expect((await call(registry, 'GET', '/v2/alice/app/manifests/v1', { headers: bearer(t) })).text).toBe(
      image.manifest,
    );
    expect((await call(registry, 'GET', '/v2/', { headers: bearer(t) })).status).toBe(200);
  });

  it('a token for repository A cannot read or mount from repository B', async () => {
    const registry = make();
    const ta = await token(registry, 'repository:alice/app:pull,push', ['alice', 'wonderland']);
    const image = await pushImage(
      { ...registry, fetch: (req) => registry.fetch(withAuth(req, `Bearer ${ta}`)) },
      'alice/app',
      'v1',
    );
    // bob asks for alice's repository: the token service leaves that scope out
    const tb = await token(registry, ['repository:bob/app:pull,push', 'repository:alice/app:pull'], ['bob', 'builder']);
    const claims = verifyJwt(tb, { algorithm: 'HS256', secret: 'test-secret' }) as { access: { name: string }[] };
    expect(claims.access.map((a) => a.name)).toEqual(['bob/app']);
    const read = await call(registry, 'GET', `/v2/alice/app/blobs/${image.layerDigest}`, { headers: bearer(tb) });
    expect(read.status).toBe(403);
    expect(read.json().errors[0].code).toBe('DENIED');
    const mount = await call(registry, 'POST', '/v2/bob/app/blobs/uploads/', {
      query: { mount: image.layerDigest, from: 'alice/app' },
      headers: bearer(tb),
    });
    expect(mount.status).toBe(202);
    expect(await registry.store.repoBlob('bob/app', image.layerDigest as never)).toBeUndefined();
    // alice's token for one repository does not reach her other repository either (she must ask for it)
    const other = await call(registry, 'GET', '/v2/alice/other/tags/list', { headers: bearer(ta) });
    expect(other.status).toBe(401);
    expect(other.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('mount with pull on the source succeeds (201)', async () => {
    const registry = make();
    const ta = await token(
      registry,
      ['repository:alice/app:pull,push', 'repository:shared/lib:pull,push'],
      ['alice', 'wonderland'],
    );
    const image = await pushImage(
      { ...registry, fetch: (req) => registry.fetch(withAuth(req, `Bearer ${ta}`)) },
      'alice/app',
      'v1',
    );
    const r = await call(registry, 'POST', '/v2/shared/lib/blobs/uploads/', {
      query: { mount: image.layerDigest, from: 'alice/app' },
      headers: bearer(ta),
    });
    expect(r.status).toBe(201);
  });

  it('requires the delete scope to delete', async () => {
    const registry = make();
    const t = await token(registry, 'repository:bob/app:pull,push,delete', ['bob', 'builder']);
    const image = await pushImage(
      { ...registry, fetch: (req) => registry.fetch(withAuth(req, `Bearer ${t}`)) },
      'bob/app',
      'v1',
    );
    const r = await call(registry, 'DELETE', `/v2/bob/app/manifests/${image.digest}`, { headers: bearer(t) });
    expect(r.status).toBe(403);
    expect(r.json().errors[0].code).toBe('DENIED');
  });

  it('anonymous tokens carry only what the policy gives anonymous; anonymous push is refused', async () => {
    const registry = make();
    const t = await token(registry, ['repository:public/x:pull,push']);
    const claims = verifyJwt(t, { algorithm: 'HS256', secret: 'test-secret' }) as {
      sub: string;
      access: { actions: string[] }[];
    };
    expect(claims.sub).toBe('');
    expect(claims.access).toEqual([{ type: 'repository', name: 'public/x', actions: ['pull'] }]);
    expect((await call(registry, 'GET', '/v2/public/x/tags/list', { headers: bearer(t) })).status).toBe(404);
    const push = await call(registry, 'POST', '/v2/public/x/blobs/uploads/', { headers: bearer(t) });
    expect(push.status).toBe(401);
    expect(push.json().errors[0].code).toBe('UNAUTHORIZED');
  });

  it('refuses forged, expired, foreign-audience and alg-confused tokens', async () => {
    const registry = make();
    const now = Math.floor(Date.now() / 1000);
    const access = [{ type: 'repository', name: 'alice/app', actions: ['pull'] }];
    const key = { algorithm: 'HS256' as const, secret: 'test-secret' };
    const cases = [
      signJwt(
        { iss: 'lade-issuer', sub: 'alice', aud: 'lade-test', exp: now + 60, access },
        { algorithm: 'HS256', secret: 'wrong' },
      ),
      signJwt({ iss: 'lade-issuer', sub: 'alice', aud: 'lade-test', exp: now - 3600, access }, key),
      signJwt({ iss: 'lade-issuer', sub: 'alice', aud: 'elsewhere', exp: now + 60, access }, key),
      signJwt({ iss: 'mallory', sub: 'alice', aud: 'lade-test', exp: now + 60, access }, key),
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'lade-issuer', aud: 'lade-test', exp: now + 60, access })).toString('base64url')}.`,
      'not-a-token',
    ];
    for (const t of cases) {
      const r = await call(registry, 'GET', '/v2/alice/app/tags/list', { headers: bearer(t) });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('error="invalid_token"');
    }
  });

  it('signs and verifies ES256 and RS256 tokens with PEM keys', async () => {
    for (const [algorithm, type] of [
      ['ES256', 'ec'],
      ['RS256', 'rsa'],
    ] as const) {
      const pair =
        type === 'ec'
          ? generateKeyPairSync('ec', {
              namedCurve: 'P-256',
              publicKeyEncoding: { type: 'spki', format: 'pem' },
              privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
            })
          : generateKeyPairSync('rsa', {
              modulusLength: 2048,
              publicKeyEncoding: { type: 'spki', format: 'pem' },
              privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
            });
      const registry = createRegistry({
        auth: tokenAuth({ service: 's', issuer: 'i', key: { algorithm, privateKey: pair.privateKey }, users }),
      });
      const res = await registry.fetch(
        new Request('http://r.test/token?service=s&scope=repository:x:pull', {
          headers: { Authorization: basic('alice', 'wonderland') },
        }),
      );
      const { token: t } = (await res.json()) as { token: string };
      expect(verifyJwt(t, { algorithm, publicKey: pair.publicKey })).toMatchObject({ sub: 'alice', aud: 's' });
      expect((await call(registry, 'GET', '/v2/x/tags/list', { headers: bearer(t) })).status).toBe(404);
      // a verifier-only registry (external token service) accepts the same token
      const verifier = createRegistry({
        auth: tokenAuth({ service: 's', issuer: 'i', key: { algorithm, publicKey: pair.publicKey }, issue: false }),
      });
      expect((await call(verifier, 'GET', '/v2/x/tags/list', { headers: bearer(t) })).status).toBe(404);
      expect((await call(verifier, 'GET', '/token')).status).toBe(404);
    }
  });
});
