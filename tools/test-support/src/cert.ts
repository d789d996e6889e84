import { createSign, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';

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

function certificateDer(privateKey: KeyObject, publicKey: KeyObject, commonName: string): Buffer {
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

/** A throwaway key and self-signed certificate (sha256WithRSAEncryption), valid from an hour ago for two days. */
export function selfSignedCertificate(commonName: string): {
  key: KeyObject;
  keyPem: string;
  certDer: Buffer;
  certPem: string;
} {
  const { privateKey: key, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const certDer = certificateDer(key, publicKey, commonName);
  const certPem = `-----BEGIN CERTIFICATE-----\n${certDer
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END CERTIFICATE-----\n`;
  return { key, keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string, certDer, certPem };
}
