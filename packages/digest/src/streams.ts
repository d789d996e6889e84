import { type Digest, digestAlgorithm, parseDigest } from './digest.js';
import { contentErrors, SizeInvalidError } from './errors.js';
import { createHasher, type HashOptions } from './hasher.js';

// The streams spec's transformer `cancel` (Node ≥ 20, Deno) is missing from TypeScript's DOM lib.
type CancellableTransformer = Transformer<Uint8Array, Uint8Array> & { cancel?: (reason: unknown) => void };

/** What a hashing stream found once its input ended. */
export interface HashResult {
  readonly digest: Digest;
  readonly size: number;
}

/**
 * A TransformStream that passes bytes through unchanged and hashes them on the way.
 * `result` resolves with the digest and byte count when the input ends (and rejects if the stream errors or is cancelled).
 *
 * @example
 * const h = hashingStream();
 * await body.pipeThrough(h).pipeTo(sink);
 * const { digest, size } = await h.result;
 */
export class HashingStream extends TransformStream<Uint8Array, Uint8Array> {
  readonly result: Promise<HashResult>;

  constructor(options: HashOptions = {}) {
    const hasher = createHasher(options.algorithm, options.backend);
    let size = 0;
    let resolve!: (r: HashResult) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<HashResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    result.catch(() => {});
    const transformer: CancellableTransformer = {
      transform(chunk, controller) {
        hasher.update(chunk);
        size += chunk.byteLength;
        controller.enqueue(chunk);
      },
      flush() {
        resolve({ digest: hasher.digest(), size });
      },
      cancel(reason) {
        reject(reason);
      },
    };
    super(transformer);
    this.result = result;
  }
}

/** Creates a {@link HashingStream}. */
export function hashingStream(options: HashOptions = {}): HashingStream {
  return new HashingStream(options);
}

/** What a verifying stream checks the content against. */
export interface ExpectedContent {
  readonly digest: Digest | string;
  /** Exact byte count; omit (or pass a negative number) when unknown. */
  readonly size?: number;
  /** Named in error messages, e.g. `blob sha256:ab…` or `layer 2`. Defaults to the digest. */
  readonly name?: string;
}

/**
 * A TransformStream that passes bytes through and errors when they are not the expected content:
 * on the first byte past `size`, on a stream that ends short, or on a digest mismatch at the end.
 * The error reaches the reader before its final read, so a consumer that commits only after a clean end never commits bad content.
 */
export class VerifyingStream extends TransformStream<Uint8Array, Uint8Array> {
  /** Resolves with the verified digest and size once the stream ended cleanly. */
  readonly result: Promise<HashResult>;

  constructor(expected: ExpectedContent, options: Pick<HashOptions, 'backend'> = {}) {
    const digest = parseDigest(expected.digest);
    const size = expected.size !== undefined && expected.size >= 0 ? expected.size : undefined;
    const name = expected.name ?? digest;
    const hasher = createHasher(digestAlgorithm(digest), options.backend);
    let seen = 0;
    let resolve!: (r: HashResult) => void;
    let reject!: (e: unknown) => void;
    const result = new Promise<HashResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    result.catch(() => {});
    const transformer: CancellableTransformer = {
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (size !== undefined && seen > size) {
          const err = contentErrors.tooLong(name, size);
          reject(err);
          throw err;
        }
        hasher.update(chunk);
        controller.enqueue(chunk);
      },
      flush() {
        if (size !== undefined && seen !== size) {
          const err = contentErrors.tooShort(name, seen, size);
          reject(err);
          throw err;
        }
        const actual = hasher.digest();
        if (actual !== digest) {
          const err = contentErrors.digestMismatch(name, digest, actual);
          reject(err);
          throw err;
        }
        resolve({ digest, size: seen });
      },
      cancel(reason) {
        reject(reason);
      },
    };
    super(transformer);
    this.result = result;
  }
}

/** Creates a {@link VerifyingStream}. */
export function verifyingStream(
  expected: ExpectedContent,
  options: Pick<HashOptions, 'backend'> = {},
): VerifyingStream {
  return new VerifyingStream(expected, options);
}

/** Checks bytes in memory against a digest (and size, if given); throws like {@link VerifyingStream}. */
export function verifyBytes(
  bytes: Uint8Array,
  expected: ExpectedContent,
  options: Pick<HashOptions, 'backend'> = {},
): void {
  const digest = parseDigest(expected.digest);
  const name = expected.name ?? digest;
  if (expected.size !== undefined && expected.size >= 0 && bytes.byteLength !== expected.size) {
    throw new SizeInvalidError(`${name}: content is ${bytes.byteLength} bytes, expected ${expected.size}`);
  }
  const h = createHasher(digestAlgorithm(digest), options.backend);
  h.update(bytes);
  const actual = h.digest();
  if (actual !== digest) {
    throw contentErrors.digestMismatch(name, digest, actual);
  }
}
