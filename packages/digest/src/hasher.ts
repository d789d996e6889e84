import { sha256 as nobleSha256, sha512 as nobleSha512 } from '@noble/hashes/sha2.js';
import type { Digest, DigestAlgorithm } from './digest.js';

/** Which implementation computes hashes: node:crypto (native, fast) or @noble/hashes (pure JS, portable). */
export type HashBackend = 'node' | 'noble';

/** An incremental hash of one algorithm. */
export interface Hasher {
  readonly algorithm: DigestAlgorithm;
  update(bytes: Uint8Array): void;
  /** Finishes the hash; the hasher cannot be used afterwards. */
  digest(): Digest;
}

type NodeCrypto = typeof import('node:crypto');
let nodeCrypto: NodeCrypto | undefined;
try {
  // Present on Node and Deno; absent in browsers and some workers, where @noble/hashes takes over.
  nodeCrypto = await import('node:crypto');
} catch {
  nodeCrypto = undefined;
}

/** The backend used when none is asked for: node:crypto when the runtime has it, @noble/hashes otherwise. */
export function defaultHashBackend(): HashBackend {
  return nodeCrypto ? 'node' : 'noble';
}

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Creates an incremental hasher. */
export function createHasher(
  algorithm: DigestAlgorithm = 'sha256',
  backend: HashBackend = defaultHashBackend(),
): Hasher {
  if (backend === 'node') {
    if (!nodeCrypto) throw new Error('the node hash backend needs node:crypto, which this runtime lacks; use "noble"');
    const h = nodeCrypto.createHash(algorithm);
    return {
      algorithm,
      update: (bytes) => void h.update(bytes),
      digest: () => `${algorithm}:${h.digest('hex')}` as Digest,
    };
  }
  const h = (algorithm === 'sha256' ? nobleSha256 : nobleSha512).create();
  return {
    algorithm,
    update: (bytes) => void h.update(bytes),
    digest: () => `${algorithm}:${toHex(h.digest())}` as Digest,
  };
}

/** Options of the hashing functions. */
export interface HashOptions {
  readonly algorithm?: DigestAlgorithm;
  readonly backend?: HashBackend;
}

const encoder = new TextEncoder();

/**
 * Digest of bytes (strings are hashed as UTF-8).
 *
 * @example hash('') // 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
 */
export function hash(data: Uint8Array | string, options: HashOptions = {}): Digest {
  const h = createHasher(options.algorithm, options.backend);
  h.update(typeof data === 'string' ? encoder.encode(data) : data);
  return h.digest();
}
