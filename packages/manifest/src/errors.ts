import { LadeError, type LadeErrorOptions } from '@lade/digest';

/** A manifest, index or image config that is not valid JSON of the expected shape (code `MANIFEST_INVALID`). */
export class ManifestInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('MANIFEST_INVALID', message, options);
  }
}

/**
 * Content lade recognises but does not handle (code `UNSUPPORTED`): schema 1 manifests, conversions a format cannot express
 * (zstd layers or artifacts to Docker v2.2).
 */
export class UnsupportedError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('UNSUPPORTED', message, options);
  }
}

/** The message every schema 1 rejection carries. */
export const SCHEMA1_MESSAGE = 'schema1 manifests are not supported; re-push the image with a current client';

/** A Docker schema 1 manifest (code `UNSUPPORTED`, a subclass of {@link UnsupportedError}). */
export class Schema1UnsupportedError extends UnsupportedError {
  constructor(options: LadeErrorOptions = {}) {
    super(SCHEMA1_MESSAGE, options);
  }
}

/** A platform string that is not `os[/arch[/variant]]` (code `PLATFORM_INVALID`). */
export class PlatformInvalidError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('PLATFORM_INVALID', message, options);
  }
}

/**
 * No entry of an index matches the wanted platform. Code `MANIFEST_UNKNOWN` (distribution's code for a manifest that is
 * not there, which is what docker reports); the message is docker's:
 * `no matching manifest for linux/arm64/v8 in the manifest list entries`. `detail` holds `{ platform, available }`.
 */
export class NoMatchingManifestError extends LadeError {
  readonly platform: string;
  readonly available: readonly string[];

  constructor(platform: string, available: readonly string[], options: LadeErrorOptions = {}) {
    super('MANIFEST_UNKNOWN', `no matching manifest for ${platform} in the manifest list entries`, {
      ...options,
      detail: { platform, available },
    });
    this.platform = platform;
    this.available = available;
  }
}
