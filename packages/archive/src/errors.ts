import { LadeError, type LadeErrorOptions } from '@lade/digest';

/** A tar stream that is malformed, truncated, or exceeds a safety limit; the message names the entry and its offset. */
export class TarError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('TAR_INVALID', message, options);
  }
}

/** A docker-archive or oci-archive whose structure is wrong (no manifest.json, a missing blob, an unsafe path). */
export class ArchiveError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('ARCHIVE_INVALID', message, options);
  }
}

/** A compressed stream that is corrupt or expands beyond the allowed limit. */
export class CompressionError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('COMPRESSION_INVALID', message, options);
  }
}

/** A request the archive code cannot serve (an unknown format, an image not in the archive). */
export class ArchiveUnsupportedError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('UNSUPPORTED', message, options);
  }
}

/** Spooling an archive's layers to temporary files failed (no space, no such directory, no permission). */
export class SpoolError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('SPOOL_FAILED', message, options);
  }
}
