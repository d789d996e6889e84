import { LadeError, type LadeErrorOptions } from '@lade/digest';

/** A blob that the store does not hold. */
export class BlobUnknownError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('BLOB_UNKNOWN', message, options);
  }
}

/** A byte range outside a blob. */
export class RangeInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('RANGE_INVALID', message, options);
  }
}

/** A name or ID that matches no image in the store (docker: `No such image: …`). */
export class ImageUnknownError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('IMAGE_UNKNOWN', message, options);
  }
}

/** An ID prefix that matches several images; `detail.candidates` lists their IDs. */
export class AmbiguousImageError extends LadeError {
  readonly candidates: readonly string[];
  constructor(message: string, candidates: readonly string[]) {
    super('AMBIGUOUS', message, { detail: { candidates } });
    this.candidates = candidates;
  }
}

/** An operation that would remove an image still referenced elsewhere (docker's `conflict: …`). */
export class ImageConflictError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('CONFLICT', message, options);
  }
}

/** A name that is not a valid image reference for this operation. */
export class NameInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('NAME_INVALID', message, options);
  }
}

/** A manifest named by a tag or digest that the layout does not hold. */
export class ManifestUnknownError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('MANIFEST_UNKNOWN', message, options);
  }
}

/** A directory that is not an OCI image layout lade can use (bad oci-layout or index.json). */
export class LayoutInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('LAYOUT_INVALID', message, options);
  }
}

/** The store's writer lock could not be taken in time. */
export class LockTimeoutError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('LOCKED', message, options);
  }
}

/** An operation that was aborted through its AbortSignal. */
export class AbortedError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('ABORTED', message, options);
  }
}
