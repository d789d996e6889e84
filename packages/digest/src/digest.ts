import { DigestInvalidError } from './errors.js';

/** The hash algorithms lade reads and writes. */
export type DigestAlgorithm = 'sha256' | 'sha512';

declare const digestBrand: unique symbol;

/** A validated content digest, `algorithm:lowercase-hex`. Obtain one from {@link parseDigest} or a hash function. */
export type Digest = string & { readonly [digestBrand]: true };

/** Hex length of each algorithm's digest. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = Object.freeze({ sha256: 64, sha512: 128 });

const digestPattern = /^(sha256|sha512):([a-f0-9]+)$/;

/**
 * Parses and validates a digest string.
 *
 * @example parseDigest('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
 * @throws DigestInvalidError for anything else (unknown algorithm, upper-case or wrong-length hex).
 */
export function parseDigest(value: string): Digest {
  if (typeof value !== 'string') throw new DigestInvalidError(`invalid digest: expected a string, got ${typeof value}`);
  const m = digestPattern.exec(value);
  if (!m) {
    const shown = value.length > 140 ? `${value.slice(0, 140)}…` : value;
    if (!value.includes(':'))
      throw new DigestInvalidError(`invalid digest "${shown}": expected algorithm:hex, e.g. sha256:<64 hex>`);
    const alg = value.slice(0, value.indexOf(':'));
    if (alg !== 'sha256' && alg !== 'sha512') {
      throw new DigestInvalidError(`invalid digest "${shown}": unsupported algorithm "${alg}" (use sha256 or sha512)`);
    }
    throw new DigestInvalidError(`invalid digest "${shown}": the hex part must be lowercase hexadecimal`);
  }
  const alg = m[1] as DigestAlgorithm;
  const hex = m[2]!;
  if (hex.length !== DIGEST_HEX_LENGTH[alg]) {
    throw new DigestInvalidError(
      `invalid digest "${value}": ${alg} needs ${DIGEST_HEX_LENGTH[alg]} hex characters, got ${hex.length}`,
    );
  }
  return value as Digest;
}

/** True when `value` is a valid digest string. */
export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'string') return false;
  const m = digestPattern.exec(value);
  return m !== null && m[2]!.length === DIGEST_HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** The algorithm part of a digest. */
export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

/** The hex part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** Builds a digest from an algorithm and hex, validating both. */
export function formatDigest(algorithm: DigestAlgorithm, hex: string): Digest {
  return parseDigest(`${algorithm}:${hex}`);
}
