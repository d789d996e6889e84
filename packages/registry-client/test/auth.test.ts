import { describe, expect, it } from 'vitest';
import { fetchBearerToken } from '../src/auth.js';
import type { HttpRequest, HttpResponse, HttpTransport } from '../src/http.js';

// A scripted token service: the unit under test is the client's reading of token answers, not HTTP.
function service(
  answers: ((req: HttpRequest) => { status: number; body: string })[],
): HttpTransport & { seen: HttpRequest[] } {
  const seen: HttpRequest[] = [];
  return {
    seen,
    async send(req): Promise<HttpResponse> {
      seen.push(req);
      const a = answers.shift();
      if (!a) throw new Error('unexpected request');
      const { status, body } = a(req);
      return { status, headers: new Headers({ 'content-type': 'application/json' }), body: new Response(body).body };
    },
    async close() {},
  };
}

const challenge = { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'reg.example' } };
const base = { challenge, userAgent: 'lade-test', host: 'reg.example' };

describe('fetchBearerToken', () => {
  it('GETs the realm with service, every scope and basic credentials, and prefers access_token', async () => {
    const t = service([() => ({ status: 200, body: '{"token":"t1","access_token":"a1","expires_in":300}' })]);
    const before = Date.now();
    const tok = await fetchBearerToken({
      ...base,
      transport: t,
      scopes: ['repository:a/b:pull', 'repository:c/d:pull,push'],
      credentials: { username: 'u', password: 'p' },
    });
    expect(tok.token).toBe('a1');
    expect(tok.expiresAt).toBeGreaterThanOrEqual(before + 295_000);
    const url = new URL(t.seen[0]!.url);
    expect(t.seen[0]!.method).toBe('GET');
    expect(url.searchParams.getAll('scope')).toEqual(['repository:a/b:pull', 'repository:c/d:pull,push']);
    expect(url.searchParams.get('service')).toBe('reg.example');
    expect(url.searchParams.get('account')).toBe('u');
    expect(t.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('sends no credentials anonymously and gives a token without expires_in 60 seconds', async () => {
    const t = service([() => ({ status: 200, body: '{"token":"anon"}' })]);
    const before = Date.now();
    const tok = await fetchBearerToken({
      ...base,
      transport: t,
      scopes: ['repository:a/b:pull'],
      credentials: undefined,
    });
    expect(tok.token).toBe('anon');
    expect(t.seen[0]!.headers.authorization).toBeUndefined();
    expect(tok.expiresAt - before).toBeGreaterThan(50_000);
    expect(tok.expiresAt - before).toBeLessThanOrEqual(60_000);
  });

  it('keeps a short-lived token usable for half its life', async () => {
    const t = service([() => ({ status: 200, body: '{"token":"short","expires_in":4}' })]);
    const before = Date.now();
    const tok = await fetchBearerToken({ ...base, transport: t, scopes: [], credentials: undefined });
    expect(tok.expiresAt - before).toBeGreaterThanOrEqual(1_900);
  });

  it('exchanges an identity token with the OAuth POST form and returns the refresh token', async () => {
    const t = service([() => ({ status: 200, body: '{"access_token":"x","refresh_token":"r2","expires_in":60}' })]);
    const tok = await fetchBearerToken({
      ...base,
      transport: t,
      scopes: ['repository:a/b:pull'],
      credentials: { identityToken: 'r1' },
    });
    expect(tok).toMatchObject({ token: 'x', refreshToken: 'r2' });
    const form = new URLSearchParams(new TextDecoder().decode(t.seen[0]!.body as Uint8Array));
    expect(t.seen[0]!.method).toBe('POST');
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'r1',
      client_id: 'lade',
      service: 'reg.example',
      scope: 'repository:a/b:pull',
    });
  });

  it('falls back to GET when the token service has no OAuth endpoint (404 to the POST)', async () => {
    const t = service([() => ({ status: 404, body: '' }), () => ({ status: 200, body: '{"token":"g"}' })]);
    const tok = await fetchBearerToken({ ...base, transport: t, scopes: [], credentials: { identityToken: 'r1' } });
    expect(tok.token).toBe('g');
    expect(t.seen.map((r) => r.method)).toEqual(['POST', 'GET']);
  });

  it('reports refused credentials as UNAUTHORIZED naming the host', async () => {
    const t = service([() => ({ status: 401, body: '{"details":"incorrect username or password"}' })]);
    const err = await fetchBearerToken({
      ...base,
      transport: t,
      scopes: [],
      credentials: { username: 'u', password: 'bad' },
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    expect((err as Error).message).toContain('reg.example');
    expect((err as Error).message).toContain('incorrect username or password');
  });

  it('rejects answers without a token and challenges without a realm', async () => {
    const t = service([() => ({ status: 200, body: '{"expires_in":60}' })]);
    await expect(fetchBearerToken({ ...base, transport: t, scopes: [], credentials: undefined })).rejects.toThrow(
      /without a token/,
    );
    await expect(
      fetchBearerToken({
        ...base,
        challenge: { scheme: 'bearer', params: {} },
        transport: service([]),
        scopes: [],
        credentials: undefined,
      }),
    ).rejects.toThrow(/without a realm/);
  });
});
