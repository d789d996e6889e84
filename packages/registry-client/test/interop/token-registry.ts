// A real docker-registry configured for token authentication, with a small token service issuing RS256 JWTs
// (x5c-signed by a throwaway self-signed certificate the registry trusts), as Docker Hub's auth.docker.io does.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, selfSignedCertificate, tempDir } from '@lade/test-support';

export interface TokenRequestSeen {
  readonly method: string;
  readonly scopes: string[];
  readonly account: string | undefined;
  readonly grant: string | undefined;
}

export interface TokenRegistry {
  readonly host: string;
  readonly realm: string;
  readonly issued: TokenRequestSeen[];
  /** Seconds from now a new token's `exp` claim lies at (negative: already past, the registry allows 60 s leeway). */
  expOffsetSeconds: number;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** `users`: who may log in; `pushers`: who gets push. Anyone gets pull. */
export async function startTokenRegistry(options: {
  users: Record<string, string>;
  pushers: string[];
}): Promise<TokenRegistry> {
  const dir = await tempDir('lade-token-registry-');
  const certPath = join(dir.path, 'cert.pem');
  const { key, certDer, certPem } = selfSignedCertificate('lade-token-test');
  await writeFile(certPath, certPem);
  const issued: TokenRequestSeen[] = [];
  const refreshTokens = new Map<string, string>();
  const state = { expOffsetSeconds: 300 };

  const sign = (sub: string, service: string, scopes: string[]): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = scopes.flatMap((s) => {
      const [type, ...rest] = s.split(':');
      const actions = rest.pop() ?? '';
      const name = rest.join(':');
      const allowed = actions
        .split(',')
        .filter(
          (a) =>
            a === 'pull' ||
            a === '*' ||
            (a === 'push' && options.pushers.includes(sub)) ||
            (a === 'delete' && options.pushers.includes(sub)),
        );
      return allowed.length ? [{ type, name, actions: allowed }] : [];
    });
    const header = { typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] };
    const claims = {
      iss: 'lade-test-issuer',
      sub,
      aud: service,
      exp: now + state.expOffsetSeconds,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(key);
    return `${input}.${b64url(sig)}`;
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((ok) => {
      let s = '';
      req.setEncoding('utf8');
      req.on('data', (d: string) => (s += d));
      req.on('end', () => ok(s));
    });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let params = url.searchParams;
    if (req.method === 'POST') params = new URLSearchParams(await readBody(req));
    const scopes =
      req.method === 'POST' ? (params.get('scope') ?? '').split(' ').filter(Boolean) : params.getAll('scope');
    let sub = '';
    const grant = params.get('grant_type') ?? undefined;
    if (grant === 'refresh_token') {
      sub = refreshTokens.get(params.get('refresh_token') ?? '') ?? '';
      if (!sub) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"invalid refresh token"}');
        return;
      }
    } else {
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) {
        const [u, p] = Buffer.from(auth.slice(6), 'base64').toString().split(':') as [string, string];
        if (options.users[u] !== p) {
          res
            .writeHead(401, { 'content-type': 'application/json' })
            .end('{"details":"incorrect username or password"}');
          return;
        }
        sub = u;
      }
    }
    issued.push({ method: req.method ?? '', scopes, account: sub || undefined, grant });
    const token = sign(sub, params.get('service') ?? '', scopes);
    const body: Record<string, unknown> = {
      token,
      access_token: token,
      expires_in: 300,
      issued_at: new Date().toISOString(),
    };
    if (sub && params.get('offline_token') === 'true') {
      const rt = randomUUID();
      refreshTokens.set(rt, sub);
      body.refresh_token = rt;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;

  const port = await freePort();
  const config = join(dir.path, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: error, accesslog: {disabled: true}}',
      `storage: {filesystem: {rootdirectory: ${join(dir.path, 'data')}}, delete: {enabled: true}}`,
      `http: {addr: 127.0.0.1:${port}, secret: lade-test-secret}`,
      `auth: {token: {realm: "${realm}", service: lade-registry, issuer: lade-test-issuer, rootcertbundle: ${certPath}}}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      await r.arrayBuffer();
      break;
    } catch {
      if (i > 100) throw new Error('token registry did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const out: TokenRegistry = {
    host: `127.0.0.1:${port}`,
    realm,
    issued,
    get expOffsetSeconds() {
      return state.expOffsetSeconds;
    },
    set expOffsetSeconds(v: number) {
      state.expOffsetSeconds = v;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise<void>((ok) => server.close(() => ok()));
      await dir.cleanup();
    },
  };
  return out;
}
