export {
  DIGEST_HEX_LENGTH,
  type Digest,
  type DigestAlgorithm,
  digestAlgorithm,
  digestHex,
  formatDigest,
  isDigest,
  parseDigest,
} from './digest.js';
export {
  contentErrors,
  DigestInvalidError,
  isLadeError,
  LadeError,
  type LadeErrorOptions,
  SizeInvalidError,
} from './errors.js';
export { type FileHasher, fileHasher } from './file-hasher.js';
export { createHasher, defaultHashBackend, type HashBackend, type Hasher, type HashOptions, hash } from './hasher.js';
export {
  type ExpectedContent,
  HashingStream,
  type HashResult,
  hashingStream,
  VerifyingStream,
  verifyBytes,
  verifyingStream,
} from './streams.js';
