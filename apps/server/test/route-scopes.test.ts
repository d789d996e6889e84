import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import {
  type Access,
  type AccessPolicy,
  type Action,
  basicAuth,
  createRegistry,
  MemoryDriver,
  parseHtpasswd,
  parseScopes,
  type Registry,
  signJwt,
  tokenAuth,
} from '../src/index.js';
import { type Call, call, pushBlob, pushImage, sha256 } from './helpers.js';

const KEY = { algorithm: 'HS256' as const, secret: 'route-scope-secret' };
const SERVICE = 'lade-scopes';
const ISSUER = 'lade-scopes-issuer';
const REPO = 'team/app';

interface Fixture {
  manifest: string;
  digest: string;
  layerDigest: string;
  otherBlob: string;
  upload: string;
  newBlob: string;
}

/** Content every row starts from: an image in team/app, a blob in team/other, an open upload in team/app. */
async function seed(setup: Registry): Promise<Fixture> {
  const image = await pushImage(setup, REPO, 'v1');
  const otherBlob = await pushBlob(setup, 'team/other', 'mountable blob');
  const post = await call(setup, 'POST', `/v2/${REPO}/blobs/uploads/`);
  return {
    manifest: image.manifest,
    digest: image.digest,
    layerDigest: image.layerDigest,
    otherBlob,
    upload: post.headers.get('location')!,
    newBlob: 'new blob content',
  };
}

/** What a denied request must not have changed. */
async function state(registry: Registry, f: Fixture): Promise<unknown> {
  const s = registry.store;
  return {
    catalog: await s.catalog(),
    tags: await s.listTags(REPO),
    manifest: !!(await s.getManifest(REPO, f.digest)),
    layer: await s.repoBlob(REPO, f.layerDigest as never),
    mounted: await s.repoBlob(REPO, f.otherBlob as never),
    newBlob: await s.repoBlob(REPO, sha256(f.newBlob) as never),
    uploads: await s.listUploads(REPO),
    uploadSize: (await s.uploadState(REPO, f.upload.split('/').pop()!))?.size,
  };
}

interface Row {
  readonly route: string;
  readonly method: string;
  readonly path: (f: Fixture) => string;
  readonly query?: (f: Fixture) => Record<string, string>;
  readonly body?: (f: Fixture) => string;
  readonly headers?: Record<string, string>;
  /** The scope the route needs, as its challenge names it ('' for none). */
  readonly scope: string;
  /** The status when the needed scope is granted. */
  readonly allowed: number;
  /** More access granted with the needed scope (and the status then). */
  readonly extra?: { readonly scope: string; readonly allowed: number };
}

const manifestHeaders = { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' };
const pull = `repository:${REPO}:pull`;
const pullPush = `repository:${REPO}:pull,push`;
const del = `repository:${REPO}:delete`;

/**
 * Every route and method with the scope it needs. Distribution derives scopes from the method (GET/HEAD pull,
 * POST/PUT/PATCH pull+push, DELETE delete); lade differs on purpose for uploads: their status (GET) and cancel
 * (DELETE) need pull+push (an upload is a push; docker cancels uploads holding only a push token), and a mount
 * without pull on the source falls back to a 202 upload instead of a 401.
 */
const ROWS: readonly Row[] = [
  { route: 'base', method: 'GET', path: () => '/v2/', scope: '', allowed: 200 },
  { route: 'catalog', method: 'GET', path: () => '/v2/_catalog', scope: 'registry:catalog:*', allowed: 200 },
  { route: 'manifest by tag', method: 'GET', path: () => `/v2/${REPO}/manifests/v1`, scope: pull, allowed: 200 },
  { route: 'manifest by tag', method: 'HEAD', path: () => `/v2/${REPO}/manifests/v1`, scope: pull, allowed: 200 },
  {
    route: 'manifest by digest',
    method: 'GET',
    path: (f) => `/v2/${REPO}/manifests/${f.digest}`,
    scope: pull,
    allowed: 200,
  },
  {
    route: 'manifest',
    method: 'PUT',
    path: () => `/v2/${REPO}/manifests/v2`,
    body: (f) => f.manifest,
    headers: manifestHeaders,
    scope: pullPush,
    allowed: 201,
  },
  {
    route: 'manifest by digest',
    method: 'DELETE',
    path: (f) => `/v2/${REPO}/manifests/${f.digest}`,
    scope: del,
    allowed: 202,
  },
  { route: 'tag', method: 'DELETE', path: () => `/v2/${REPO}/manifests/v1`, scope: del, allowed: 202 },
  { route: 'blob', method: 'GET', path: (f) => `/v2/${REPO}/blobs/${f.layerDigest}`, scope: pull, allowed: 200 },
  { route: 'blob', method: 'HEAD', path: (f) => `/v2/${REPO}/blobs/${f.layerDigest}`, scope: pull, allowed: 200 },
  { route: 'blob', method: 'DELETE', path: (f) => `/v2/${REPO}/blobs/${f.layerDigest}`, scope: del, allowed: 202 },
  { route: 'upload start', method: 'POST', path: () => `/v2/${REPO}/blobs/uploads/`, scope: pullPush, allowed: 202 },
  {
    route: 'monolithic upload',
    method: 'POST',
    path: () => `/v2/${REPO}/blobs/uploads/`,
    query: (f) => ({ digest: sha256(f.newBlob) }),
    body: (f) => f.newBlob,
    scope: pullPush,
    allowed: 201,
  },
  {
    route: 'cross-repository mount',
    method: 'POST',
    path: () => `/v2/${REPO}/blobs/uploads/`,
    query: (f) => ({ mount: f.otherBlob, from: 'team/other' }),
    scope: pullPush,
    allowed: 202,
    extra: { scope: 'repository:team/other:pull', allowed: 201 },
  },
  { route: 'upload status', method: 'GET', path: (f) => f.upload, scope: pullPush, allowed: 204 },
  {
    route: 'upload chunk',
    method: 'PATCH',
    path: (f) => f.upload,
    body: (f) => f.newBlob,
    headers: { 'Content-Type': 'application/octet-stream' },
    scope: pullPush,
    allowed: 202,
  },
  {
    route: 'upload finish',
    method: 'PUT',
    path: (f) => f.upload,
    query: (f) => ({ digest: sha256(f.newBlob) }),
    body: (f) => f.newBlob,
    scope: pullPush,
    allowed: 201,
  },
  { route: 'upload cancel', method: 'DELETE', path: (f) => f.upload, scope: pullPush, allowed: 204 },
  { route: 'tags list', method: 'GET', path: () => `/v2/${REPO}/tags/list`, scope: pull, allowed: 200 },
  { route: 'referrers', method: 'GET', path: (f) => `/v2/${REPO}/referrers/${f.digest}`, scope: pull, allowed: 200 },
];

function send(registry: Registry, row: Row, f: Fixture, auth?: string): Promise<Call> {
  return call(registry, row.method, row.path(f), {
    headers: { ...row.headers, ...(auth ? { Authorization: auth } : {}) },
    ...(row.query ? { query: row.query(f) } : {}),
    ...(row.body ? { body: row.body(f) } : {}),
  });
}

/** The accesses of a scope string minus one action (accesses left with no action are dropped). */
function without(scope: string, action: Action): Access[] {
  return parseScopes([scope])
    .map((a) => ({ ...a, actions: a.actions.filter((x) => x !== action) }))
    .filter((a) => a.actions.length > 0);
}

const bearer = (access: readonly Access[]) => {
  const now = Math.floor(Date.now() / 1000);
  return `Bearer ${signJwt({ iss: ISSUER, sub: 'alice', aud: SERVICE, exp: now + 300, nbf: now - 10, access }, KEY)}`;
};

const label = (row: Row) => `${row.method} ${row.route}`;

describe('every route enforces its scope (token auth)', () => {
  async function setup(): Promise<{ registry: Registry; f: Fixture }> {
    const storage = new MemoryDriver();
    const f = await seed(createRegistry({ storage }));
    const registry = createRegistry({
      storage,
      auth: tokenAuth({
        service: SERVICE,
        issuer: ISSUER,
        key: KEY,
        issue: false,
        realm: 'https://auth.test/token',
        policy: [{ accounts: ['alice'], repositories: ['**'], actions: ['*'] }],
      }),
    });
    return { registry, f };
  }

  it.each(ROWS.map((row) => [label(row), row] as const))('%s', async (_name, row) => {
    const { registry, f } = await setup();
    const before = await state(registry, f);
    // no token: 401 with a challenge naming exactly the scope the route needs
    const anon = await send(registry, row, f);
    expect(anon.status).toBe(401);
    const challenge = `Bearer realm="https://auth.test/token",service="${SERVICE}"`;
    expect(anon.headers.get('www-authenticate')).toBe(row.scope ? `${challenge},scope="${row.scope}"` : challenge);
    // a token missing any one needed action, or holding the actions for another repository: 401 insufficient_scope
    const needed = parseScopes([row.scope]);
    const short = [...new Set(needed.flatMap((a) => a.actions))].map((action) => without(row.scope, action));
    const elsewhere = needed.map((a) => ({ ...a, name: a.type === 'repository' ? 'team/elsewhere' : 'elsewhere' }));
    for (const access of row.scope ? [...short, elsewhere] : []) {
      const r = await send(registry, row, f, bearer(access));
      expect({ access, status: r.status }).toEqual({ access, status: 401 });
      expect(r.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      if (row.method !== 'HEAD') expect(r.json().errors[0].code).toBe('UNAUTHORIZED');
    }
    expect(await state(registry, f)).toEqual(before);
    // exactly the needed scope: the route runs
    const ok = await send(registry, row, f, bearer(needed));
    expect({ status: ok.status, body: ok.text }).toEqual({ status: row.allowed, body: ok.text });
    if (row.extra) {
      const { registry: again, f: g } = await setup();
      const more = await send(again, row, g, bearer([...needed, ...parseScopes([row.extra.scope])]));
      expect(more.status).toBe(row.extra.allowed);
    }
  });
});

describe('every route enforces its scope (htpasswd basic auth with an access policy)', () => {
  const ACTIONS: readonly Action[] = ['pull', 'push', 'delete', '*'];
  const hash = bcrypt.hashSync('pw', 4);
  const users = parseHtpasswd(
    ['exact', 'extra', ...ACTIONS.map((a) => `no-${a === '*' ? 'star' : a}`)].map((u) => `${u}:${hash}`).join('\n'),
  );
  const basic = (user: string) => `Basic ${Buffer.from(`${user}:pw`).toString('base64')}`;

  function policyFor(row: Row): AccessPolicy {
    const rules = (account: string, access: readonly Access[]) =>
      access.map((a) => ({ accounts: [account], repositories: [a.name], actions: [...a.actions] }));
    const needed = parseScopes([row.scope]);
    return [
      ...rules('exact', needed),
      ...rules('extra', [...needed, ...parseScopes(row.extra ? [row.extra.scope] : [])]),
      ...ACTIONS.flatMap((action) => rules(`no-${action === '*' ? 'star' : action}`, without(row.scope, action))),
    ];
  }

  it.each(ROWS.map((row) => [label(row), row] as const))('%s', async (_name, row) => {
    const storage = new MemoryDriver();
    const f = await seed(createRegistry({ storage }));
    const registry = createRegistry({ storage, auth: basicAuth({ realm: 'lade', users, policy: policyFor(row) }) });
    const before = await state(registry, f);
    const anon = await send(registry, row, f);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Basic realm="lade"');
    const needed = parseScopes([row.scope]).flatMap((a) => a.actions);
    for (const action of ACTIONS.filter((a) => needed.includes(a))) {
      const r = await send(registry, row, f, basic(`no-${action === '*' ? 'star' : action}`));
      expect({ action, status: r.status }).toEqual({ action, status: 403 });
      if (row.method !== 'HEAD') expect(r.json().errors[0].code).toBe('DENIED');
    }
    expect(await state(registry, f)).toEqual(before);
    const ok = await send(registry, row, f, basic('exact'));
    expect(ok.status).toBe(row.allowed);
  });

  it('a mount needs pull on the source: with it 201, without it a 202 upload and nothing linked', async () => {
    const row = ROWS.find((r) => r.route === 'cross-repository mount')!;
    for (const [user, status] of [
      ['extra', 201],
      ['exact', 202],
    ] as const) {
      const storage = new MemoryDriver();
      const f = await seed(createRegistry({ storage }));
      const registry = createRegistry({ storage, auth: basicAuth({ realm: 'lade', users, policy: policyFor(row) }) });
      const r = await send(registry, row, f, basic(user));
      expect({ user, status: r.status }).toEqual({ user, status });
      expect(!!(await registry.store.repoBlob(REPO, f.otherBlob as never))).toBe(status === 201);
    }
  });
});
