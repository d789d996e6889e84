import { InvalidReferenceError } from './errors.js';

/** How many hex digits docker shows of an image ID (`docker images`, `IMAGE ID`). */
export const SHORT_ID_LENGTH = 12;

/** An image ID or a prefix of one, as a user may type it to `docker inspect`, `rmi`, `tag`, … */
export interface ImageIdPrefix {
  /** The lower-case hex digits given: all 64 for a full ID, at least one for a prefix. */
  readonly hex: string;
  /** True when all 64 hex digits are there, so the ID names exactly one image. */
  readonly full: boolean;
  /** `sha256:<hex>` when {@link full}; absent for a prefix. */
  readonly digest?: string;
}

// Optional `sha256:`, then 1–64 lower-case hex digits. docker's ID lookup (digestset) matches on the same forms.
const imageIdPattern = /^(?:sha256:)?([a-f0-9]{1,64})$/;

/**
 * True when `s` can be an image ID or ID prefix: `sha256:<hex>` or bare hex, 1 to 64 lower-case hex digits.
 * Note that short prefixes (`dbcc1`) are also valid repository names; callers decide which to try first.
 */
export function isImageIdPrefix(s: string): boolean {
  return imageIdPattern.test(s);
}

/**
 * Parse an image ID or prefix: `sha256:<64 hex>`, 64 bare hex digits, or a shorter hex prefix (docker shows 12).
 * @throws InvalidReferenceError (code `NAME_INVALID`) for anything else
 */
export function parseImageId(s: string): ImageIdPrefix {
  const match = imageIdPattern.exec(s);
  const hex = match?.[1];
  if (hex === undefined) {
    throw new InvalidReferenceError(
      `invalid image ID "${s}": expected sha256:<hex> or lower-case hex digits (at least one, at most 64)`,
      s,
    );
  }
  const full = hex.length === 64;
  return Object.freeze(full ? { hex, full, digest: `sha256:${hex}` } : { hex, full });
}
