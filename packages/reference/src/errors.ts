// The brand @lade/digest's LadeError recognises; this package has no dependencies, so it marks its errors itself.
const ladeErrorBrand = Symbol.for('lade.error');

/** The codes an invalid reference carries: distribution's, so the registry and the CLI can pass them on. */
export type InvalidReferenceCode = 'NAME_INVALID' | 'TAG_INVALID' | 'DIGEST_INVALID';

/**
 * A string that is not a valid image reference, tag, digest or image ID. Messages are docker's own
 * (`invalid reference format`, `invalid reference format: repository name (library/Ubuntu) must be lowercase`, …).
 *
 * `err instanceof LadeError` (from `@lade/digest`) holds for it: it carries the shared lade error brand and a `code`.
 */
export class InvalidReferenceError extends Error {
  readonly code: InvalidReferenceCode;
  /** The text that was rejected. */
  readonly input: string;
  readonly detail: { readonly input: string };

  constructor(message: string, input: string, code: InvalidReferenceCode = 'NAME_INVALID') {
    super(message);
    this.code = code;
    this.input = input;
    this.detail = Object.freeze({ input });
    this.name = 'InvalidReferenceError';
    Object.defineProperty(this, ladeErrorBrand, { value: true });
  }
}

/** docker's message for anything that does not match the grammar. */
export const INVALID_REFERENCE_FORMAT = 'invalid reference format';
