export {
  type Digest,
  type DigestAlgorithm,
  DIGEST_HEX_LENGTH,
  parseDigest,
  isDigest,
  digestAlgorithm,
  digestHex,
  formatDigest,
} from './digest.js';
export { LadeError, type LadeErrorOptions, isLadeError, DigestInvalidError, SizeInvalidError } from './errors.js';
export { type Hasher, type HashBackend, type HashOptions, createHasher, defaultHashBackend, hash } from './hasher.js';
export {
  type HashResult,
  type ExpectedContent,
  HashingStream,
  hashingStream,
  VerifyingStream,
  verifyingStream,
  verifyBytes,
} from './streams.js';
