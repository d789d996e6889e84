// A real docker-registry configured for token authentication, with a small token service issuing RS256 JWTs
// (x5c-signed by a throwaway self-signed certificate the registry trusts), as Docker Hub's auth.docker.io does.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSign, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, tempDir } from '@lade/test-support';

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

// A minimal DER writer, enough for one self-signed X.509 v3 certificate (no openssl needed).
function der(tag: number, body: Buffer): Buffer {
  const n = body.length;
  const len = n < 128 ? Buffer.from([n]) : n < 256 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 255]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const oid = (dotted: string) => {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [a * 40 + b];
  for (const v of rest) {
    const out = [v & 127];
    for (let x = v >> 7; x > 0; x >>= 7) out.unshift((x & 127) | 128);
    bytes.push(...out);
  }
  return der(0x06, Buffer.from(bytes));
};
const utcTime = (d: Date) => der(0x17, Buffer.from(`${d.toISOString().slice(2, 19).replace(/[-:T]/g, '')}Z`));

/** A self-signed certificate (sha256WithRSAEncryption) for `key`, valid from an hour ago for two days. */
function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, commonName: string): Buffer {
  const sigAlg = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const name = seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName)))));
  const now = Date.now();
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(
      0x02,
      Buffer.from([
        1,
        ...randomUUID()
          .replace(/-/g, '')
          .slice(0, 14)
          .match(/../g)!
          .map((h) => Number.parseInt(h, 16)),
      ]),
    ),
    sigAlg,
    name,
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 2 * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = createSign('RSA-SHA256').update(tbs).sign(privateKey);
  return seq(tbs, sigAlg, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

/** `users`: who may log in; `pushers`: who gets push. Anyone gets pull. */
export async function startTokenRegistry(options: {
  users: Record<string, string>;
  pushers: string[];
}): Promise<TokenRegistry> {
  const dir = await tempDir('lade-token-registry-');
  const certPath = join(dir.path, 'cert.pem');
  const { privateKey: key, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certDer = selfSignedCertificate(key, publicKey, 'lade-token-test');
  const pem = `-----BEGIN CERTIFICATE-----\n${certDer
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
  await writeFile(certPath, pem);
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
