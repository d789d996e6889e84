import { LadeError, type LadeErrorOptions } from '@lade/digest';

/** One entry of a registry's `{"errors":[{code,message,detail}]}` body. */
export interface RegistryErrorEntry {
  readonly code: string;
  readonly message: string;
  readonly detail?: unknown;
}

/** What a registry error is about, so callers (the CLI) can word it as docker does. */
export interface RegistryErrorContext {
  /** Registry host as the user named it, e.g. `127.0.0.1:5000` or `docker.io`. */
  readonly host?: string;
  /** Repository path, e.g. `library/alpine`. */
  readonly repository?: string;
  /** Tag or digest the request was about. */
  readonly reference?: string;
  /** HTTP method and URL of the failed request. */
  readonly method?: string;
  readonly url?: string;
}

/** Options of a registry error: the context, the HTTP status and the registry's own error entries. */
export interface RegistryErrorOptions extends LadeErrorOptions, RegistryErrorContext {
  readonly status?: number;
  readonly errors?: readonly RegistryErrorEntry[];
}

/**
 * An error answered by a registry (or met on the way to one). `code` is distribution's error code
 * (`MANIFEST_UNKNOWN`, `DENIED`, …); `errors` holds every entry of the registry's body.
 */
export class RegistryError extends LadeError {
  readonly status: number | undefined;
  readonly errors: readonly RegistryErrorEntry[];
  readonly host: string | undefined;
  readonly repository: string | undefined;
  readonly reference: string | undefined;
  readonly method: string | undefined;
  readonly url: string | undefined;

  constructor(code: string, message: string, options: RegistryErrorOptions = {}) {
    super(code, message, options);
    this.status = options.status;
    this.errors = options.errors ?? [];
    this.host = options.host;
    this.repository = options.repository;
    this.reference = options.reference;
    this.method = options.method;
    this.url = options.url;
  }

  /** The registry's own words in docker's form, e.g. `manifest unknown: manifest unknown`. */
  get registryMessage(): string {
    const e = this.errors[0];
    if (!e) return this.message;
    return `${errcodeText(e.code)}: ${e.message}`;
  }
}

/** The manifest (tag or digest) is not in the repository. */
export class ManifestUnknownError extends RegistryError {}
/** The blob is not in the repository. */
export class BlobUnknownError extends RegistryError {}
/** The repository does not exist. */
export class NameUnknownError extends RegistryError {}
/** The registry wants (other) credentials. */
export class UnauthorizedError extends RegistryError {}
/** The credentials are valid but do not grant the action. */
export class DeniedError extends RegistryError {}
/** Rate limited; `retryAfterMs` is the registry's hint when it gave one. */
export class TooManyRequestsError extends RegistryError {
  retryAfterMs: number | undefined;
}
/** The registry does not implement the operation (e.g. deletes disabled, no referrers API). */
export class UnsupportedError extends RegistryError {}
/** An upload session the registry no longer knows (expired, or the registry restarted). */
export class BlobUploadUnknownError extends RegistryError {}
/** The registry answered something that breaks the protocol (bad JSON, missing headers, a digest that does not match). */
export class RegistryProtocolError extends RegistryError {}

/** Why a connection to a registry failed. */
export type ConnectionFailure = 'refused' | 'timeout' | 'reset' | 'dns' | 'tls' | 'other';

/**
 * The registry could not be reached. `message` is docker's wording, e.g.
 * `Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused`.
 */
export class RegistryConnectionError extends RegistryError {
  readonly failure: ConnectionFailure;
  constructor(message: string, failure: ConnectionFailure, options: RegistryErrorOptions = {}) {
    super('UNAVAILABLE', message, options);
    this.failure = failure;
  }
}

/** Bad credentials configuration (unreadable config.json, a failing credential helper). */
export class CredentialsError extends LadeError {
  constructor(message: string, options: LadeErrorOptions = {}) {
    super('CREDENTIALS_INVALID', message, options);
  }
}

/** A request refused before it was sent (plain http to a host not marked insecure, a bad name or reference). */
export class RegistryUsageError extends LadeError {}

/** distribution's error code as its Go errcode prints it: `MANIFEST_UNKNOWN` → `manifest unknown`. */
export function errcodeText(code: string): string {
  return code.toLowerCase().replace(/_/g, ' ');
}

const classes: Record<string, typeof RegistryError> = {
  MANIFEST_UNKNOWN: ManifestUnknownError,
  BLOB_UNKNOWN: BlobUnknownError,
  NAME_UNKNOWN: NameUnknownError,
  UNAUTHORIZED: UnauthorizedError,
  DENIED: DeniedError,
  TOOMANYREQUESTS: TooManyRequestsError,
  UNSUPPORTED: UnsupportedError,
  BLOB_UPLOAD_UNKNOWN: BlobUploadUnknownError,
};

// distribution's default message of each code, used when a response has no body (HEAD, or a proxy's bare status).
const defaultMessages: Record<string, string> = {
  MANIFEST_UNKNOWN: 'manifest unknown',
  BLOB_UNKNOWN: 'blob unknown to registry',
  NAME_UNKNOWN: 'repository name not known to registry',
  UNAUTHORIZED: 'authentication required',
  DENIED: 'requested access to the resource is denied',
  TOOMANYREQUESTS: 'too many requests',
  UNSUPPORTED: 'The operation is unsupported.',
  BLOB_UPLOAD_UNKNOWN: 'blob upload unknown to registry',
  UNKNOWN: 'unknown error',
};

/** What a request was about, to word an error for the user. */
export interface RequestSubject extends RegistryErrorContext {
  /** `manifest`, `blob`, `upload`, `tags`, `catalog`, `referrers`, `ping` */
  readonly kind?: 'manifest' | 'blob' | 'upload' | 'tags' | 'catalog' | 'referrers' | 'ping' | 'token';
}

/** Parses a registry error body; undefined when it is not distribution's JSON error shape. */
export function parseErrorBody(text: string): RegistryErrorEntry[] | undefined {
  if (!text) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const list = (json as { errors?: unknown }).errors;
  if (!Array.isArray(list)) {
    // Token services answer {"details": "..."} or {"error": "..."}.
    const single = json as { error?: unknown; details?: unknown; message?: unknown };
    const msg = [single.error, single.details, single.message].find((v) => typeof v === 'string');
    return typeof msg === 'string' ? [{ code: 'UNKNOWN', message: msg }] : undefined;
  }
  const out: RegistryErrorEntry[] = [];
  for (const e of list) {
    if (typeof e !== 'object' || e === null) continue;
    const r = e as { code?: unknown; message?: unknown; detail?: unknown };
    const entry: RegistryErrorEntry = {
      code: typeof r.code === 'string' && r.code ? r.code.toUpperCase() : 'UNKNOWN',
      message: typeof r.message === 'string' ? r.message : '',
      ...(r.detail !== undefined ? { detail: r.detail } : {}),
    };
    out.push(entry);
  }
  return out.length ? out : undefined;
}

function statusCode(status: number, subject: RequestSubject): string {
  switch (status) {
    case 401:
      return 'UNAUTHORIZED';
    case 403:
      return 'DENIED';
    case 404:
      if (subject.kind === 'manifest') return 'MANIFEST_UNKNOWN';
      if (subject.kind === 'blob') return 'BLOB_UNKNOWN';
      if (subject.kind === 'upload') return 'BLOB_UPLOAD_UNKNOWN';
      if (subject.kind === 'tags' || subject.kind === 'referrers') return 'NAME_UNKNOWN';
      return 'NOT_FOUND';
    case 405:
      return 'UNSUPPORTED';
    case 429:
      return 'TOOMANYREQUESTS';
    default:
      return status >= 500 ? 'UNAVAILABLE' : 'UNKNOWN';
  }
}

function subjectName(s: RequestSubject): string {
  const repo = s.repository ? `${s.host ? `${s.host}/` : ''}${s.repository}` : (s.host ?? 'registry');
  if (!s.reference) return repo;
  return /^sha(256|512):/.test(s.reference) ? `${repo}@${s.reference}` : `${repo}:${s.reference}`;
}

function advice(code: string, s: RequestSubject): string {
  const host = s.host ?? 'the registry';
  switch (code) {
    case 'UNAUTHORIZED':
      return `log in with 'lade login ${host}' or check the credentials`;
    case 'DENIED':
      return `the credentials for ${host} do not grant this; check the name and your access`;
    case 'MANIFEST_UNKNOWN':
      return 'check the tag or digest';
    case 'NAME_UNKNOWN':
      return 'check the repository name';
    case 'BLOB_UNKNOWN':
      return 'the registry lost or never had this blob; push the image again';
    case 'TOOMANYREQUESTS':
      return 'the registry rate-limits you; wait and retry, or log in for a higher limit';
    case 'UNSUPPORTED':
      return `${host} does not support this operation`;
    case 'BLOB_UPLOAD_UNKNOWN':
      return 'the upload session expired or the registry restarted; push again';
    default:
      return 'retry later or check the registry';
  }
}

/** Builds the error of a failed registry response from its status, body and what the request was about. */
export function registryErrorFrom(
  status: number,
  bodyText: string,
  subject: RequestSubject,
  cause?: unknown,
): RegistryError {
  const parsed = parseErrorBody(bodyText);
  const fallbackCode = statusCode(status, subject);
  const errors: RegistryErrorEntry[] = parsed?.length
    ? parsed.map((e) => (e.code === 'UNKNOWN' && fallbackCode !== 'UNKNOWN' ? { ...e, code: fallbackCode } : e))
    : [{ code: fallbackCode, message: defaultMessages[fallbackCode] ?? `HTTP ${status}` }];
  const first = errors[0]!;
  const code = first.code;
  const Cls = classes[code] ?? RegistryError;
  const what = subject.kind ? `${subject.kind} ${subjectName(subject)}` : subjectName(subject);
  const said = `${errcodeText(code)}: ${first.message || defaultMessages[code] || `HTTP ${status}`}`;
  const message = `${what}: ${said} (HTTP ${status}); ${advice(code, subject)}`;
  return new Cls(code, message, {
    status,
    errors,
    ...(cause !== undefined ? { cause } : {}),
    ...(parsed ? { detail: parsed } : {}),
    ...contextOf(subject),
  });
}

function contextOf(s: RequestSubject): RegistryErrorContext {
  return {
    ...(s.host !== undefined ? { host: s.host } : {}),
    ...(s.repository !== undefined ? { repository: s.repository } : {}),
    ...(s.reference !== undefined ? { reference: s.reference } : {}),
    ...(s.method !== undefined ? { method: s.method } : {}),
    ...(s.url !== undefined ? { url: s.url } : {}),
  };
}

/** Which docker command a message is for. */
export interface DockerMessageContext {
  readonly action: 'pull' | 'push' | 'login' | 'inspect';
  /** The name as the user typed it (familiar form), e.g. `alpine` or `127.0.0.1:5000/app`. */
  readonly name: string;
  /** Tag or digest as the user typed it. */
  readonly reference?: string;
}

/**
 * The message docker prints for a registry error, e.g.
 * `pull access denied for NAME, repository does not exist or may require 'docker login'`,
 * `manifest for NAME:TAG not found: manifest unknown: manifest unknown`,
 * `denied: requested access to the resource is denied`.
 */
export function dockerErrorMessage(error: unknown, ctx: DockerMessageContext): string {
  if (error instanceof RegistryConnectionError) return error.message;
  if (!(error instanceof RegistryError)) return error instanceof Error ? error.message : String(error);
  const code = error.code;
  if (ctx.action === 'pull' || ctx.action === 'inspect') {
    if (code === 'UNAUTHORIZED' || code === 'DENIED' || code === 'NAME_UNKNOWN') {
      return `pull access denied for ${ctx.name}, repository does not exist or may require 'docker login': ${error.registryMessage}`;
    }
    if (code === 'MANIFEST_UNKNOWN') {
      const ref = ctx.reference ?? 'latest';
      const shown = ref.includes(':') ? `${ctx.name}@${ref}` : `${ctx.name}:${ref}`;
      return `manifest for ${shown} not found: ${error.registryMessage}`;
    }
  }
  if (ctx.action === 'push' && (code === 'DENIED' || code === 'UNAUTHORIZED' || code === 'NAME_UNKNOWN')) {
    return code === 'UNAUTHORIZED'
      ? `unauthorized: ${error.errors[0]?.message ?? 'authentication required'}`
      : 'denied: requested access to the resource is denied';
  }
  if (ctx.action === 'login' && code === 'UNAUTHORIZED') {
    return `login attempt to ${error.url ?? error.host ?? 'the registry'} failed with status: 401 Unauthorized`;
  }
  return error.registryMessage;
}
