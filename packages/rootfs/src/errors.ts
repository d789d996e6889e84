import { LadeError, type LadeErrorOptions } from '@lade/digest';

/**
 * A layer that cannot be applied safely or faithfully: an entry escaping the root (`..`, a hardlink or whiteout
 * outside), a parent that is not a directory, an absurd size. Code `LAYER_INVALID`.
 */
export class LayerInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('LAYER_INVALID', message, options);
  }
}

/** A layer whose uncompressed content does not hash to the expected diff_id (or whose blob does not match its digest). Code `DIGEST_INVALID`. */
export class LayerDigestError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('DIGEST_INVALID', message, options);
  }
}

/** The unpack target already holds a root filesystem. Code `ROOTFS_EXISTS`. */
export class RootfsExistsError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('ROOTFS_EXISTS', message, options);
  }
}

/** A directory without (or with a broken) `lade-unpack.json` record, so it cannot be diffed. Code `UNPACK_RECORD_INVALID`. */
export class UnpackRecordError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('UNPACK_RECORD_INVALID', message, options);
  }
}
