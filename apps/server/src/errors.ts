import { LadeError, type LadeErrorOptions } from '@lade/digest';

/** HTTP status of each distribution error code (distribution-spec "Error Codes" plus the few distribution adds). */
export const ERROR_STATUS: Readonly<Record<string, number>> = Object.freeze({
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  PAGINATION_NUMBER_INVALID: 400,
  RANGE_INVALID: 416,
  UNAVAILABLE: 503,
  UNKNOWN: 500,
});

/**
 * An error the registry reports to a client: a distribution error code, the HTTP status it maps to,
 * and an optional `detail` placed in the `{"errors":[…]}` body.
 */
export class RegistryError extends LadeError {
  readonly status: number;
  /** Extra response headers (e.g. `Range` on a 416, `WWW-Authenticate` on a 401). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: string,
    message: string,
    options: LadeErrorOptions & { status?: number; headers?: Record<string, string> } = {},
  ) {
    super(code, message, options);
    this.status = options.status ?? ERROR_STATUS[code] ?? 500;
    this.headers = options.headers ?? {};
  }
}

/** A storage driver failure: a path that is absent, or a backend that refused an operation. */
export class StorageError extends LadeError {
  constructor(
    code: 'PATH_NOT_FOUND' | 'STORAGE_FAILED' | 'STORAGE_INVALID_PATH',
    message: string,
    options: LadeErrorOptions = {},
  ) {
    super(code, message, options);
  }
}

/** A registry configuration that cannot be used (bad YAML, unknown driver, missing key). */
export class ConfigError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('CONFIG_INVALID', message, options);
  }
}
