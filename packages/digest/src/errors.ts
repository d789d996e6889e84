const brand = Symbol.for('lade.error');

/** Options every lade error accepts: the underlying cause and a machine-readable detail. */
export interface LadeErrorOptions {
  readonly cause?: unknown;
  readonly detail?: unknown;
}

/**
 * The base of every error lade shows a user: a stable `code` (distribution's codes where they fit,
 * e.g. `DIGEST_INVALID`, `MANIFEST_UNKNOWN`) and a one-line message naming the thing and what to do.
 *
 * `err instanceof LadeError` also holds for errors of packages that do not depend on this one
 * (they carry the same registered brand), so callers need only this one check.
 */
export class LadeError extends Error {
  readonly code: string;
  readonly detail?: unknown;

  constructor(code: string, message: string, options: LadeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    if (options.detail !== undefined) this.detail = options.detail;
    Object.defineProperty(this, brand, { value: true });
    this.name = new.target.name;
  }

  // The brand check is for LadeError itself; subclasses keep the ordinary prototype check.
  static override [Symbol.hasInstance](value: unknown): boolean {
    // `this` is the class `instanceof` was asked about (a subclass too), so it cannot be written as `LadeError`.
    if (this === LadeError) return isLadeError(value);
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

/** True for any lade error, whichever package (or copy of a package) threw it. */
export function isLadeError(value: unknown): value is LadeError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** A digest string that is not `algorithm:hex` of a supported algorithm, or content that does not match its digest. */
export class DigestInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('DIGEST_INVALID', message, options);
  }
}

/** Content whose length differs from the size its descriptor declares. */
export class SizeInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('SIZE_INVALID', message, options);
  }
}

/**
 * The errors every check of streamed content gives (verifyingStream, the store's ingest, an archive writer), so the
 * same fault reads the same wherever it is found. `name` names the content, e.g. `blob sha256:…`.
 */
export const contentErrors = {
  /** More bytes arrived than the descriptor declares. */
  tooLong: (name: string, size: number): SizeInvalidError =>
    new SizeInvalidError(
      `${name}: content is longer than the expected ${size} bytes; the source is corrupt or the descriptor is wrong`,
    ),
  /** The content ended before the declared size. */
  tooShort: (name: string, seen: number, size: number): SizeInvalidError =>
    new SizeInvalidError(`${name}: content ended after ${seen} of ${size} bytes; retry the transfer`),
  /** The content hashes to another digest. */
  digestMismatch: (name: string, expected: string, actual: string): DigestInvalidError =>
    new DigestInvalidError(
      `${name}: content digest ${actual} does not match the expected ${expected}; the source is corrupt`,
      { detail: { expected, actual } },
    ),
} as const;
