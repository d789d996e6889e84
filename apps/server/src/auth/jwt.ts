import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from 'node:crypto';

/** A JWT key: an HMAC secret (HS256) or a PEM key pair / public key (RS256, ES256). */
export type JwtKey =
  | { readonly algorithm: 'HS256'; readonly secret: string | Uint8Array }
  | {
      readonly algorithm: 'RS256' | 'ES256';
      readonly privateKey?: string | KeyObject;
      readonly publicKey?: string | KeyObject;
    };

function b64url(bytes: Uint8Array | string): string {
  return Buffer.from(bytes).toString('base64url');
}

/** Signs claims as a compact JWT. */
export function signJwt(claims: Record<string, unknown>, key: JwtKey): string {
  const header = b64url(JSON.stringify({ alg: key.algorithm, typ: 'JWT' }));
  const payload = b64url(JSON.stringify(claims));
  const input = `${header}.${payload}`;
  let sig: Buffer;
  if (key.algorithm === 'HS256') sig = createHmac('sha256', key.secret).update(input).digest();
  else {
    if (!key.privateKey) throw new Error(`cannot issue ${key.algorithm} tokens without a private key; configure one`);
    const pk = typeof key.privateKey === 'string' ? createPrivateKey(key.privateKey) : key.privateKey;
    sig = sign('sha256', Buffer.from(input), key.algorithm === 'ES256' ? { key: pk, dsaEncoding: 'ieee-p1363' } : pk);
  }
  return `${input}.${sig.toString('base64url')}`;
}

/** Verifies a compact JWT's signature (only the key's algorithm is accepted) and returns its claims. */
export function verifyJwt(token: string, key: JwtKey): Record<string, unknown> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a JWT');
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: string };
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string };
  } catch {
    throw new Error('unreadable JWT header');
  }
  if (header.alg !== key.algorithm) throw new Error(`algorithm ${String(header.alg)} is not accepted`);
  const input = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  let ok: boolean;
  if (key.algorithm === 'HS256') {
    const want = createHmac('sha256', key.secret).update(input).digest();
    ok = want.length === sig.length && timingSafeEqual(want, sig);
  } else {
    const source = key.publicKey ?? key.privateKey;
    if (!source) throw new Error('no verification key configured');
    const pub =
      typeof source === 'string'
        ? createPublicKey(source)
        : source.type === 'private'
          ? createPublicKey(source)
          : source;
    ok = verify('sha256', input, key.algorithm === 'ES256' ? { key: pub, dsaEncoding: 'ieee-p1363' } : pub, sig);
  }
  if (!ok) throw new Error('bad signature');
  try {
    return JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error('unreadable JWT claims');
  }
}
