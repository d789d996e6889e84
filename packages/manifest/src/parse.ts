import { type Digest, type DigestAlgorithm, hash, verifyBytes } from '@lade/digest';
import { ManifestInvalidError, Schema1UnsupportedError } from './errors.js';
import { baseMediaType, isIndexMediaType, isManifestMediaType, isSchema1MediaType, MediaType } from './media-types.js';
import type { ParsedImageConfig, ParsedImageIndex, ParsedImageManifest, ParsedManifest } from './types.js';
import { Checker } from './validate.js';

/** The largest manifest or index lade reads (distribution's limit): 4 MiB. */
export const MAX_MANIFEST_SIZE: number = 4 * 1024 * 1024;
/** The largest image config lade reads: the same 4 MiB. */
export const MAX_CONFIG_SIZE: number = MAX_MANIFEST_SIZE;

/** Options of the manifest parsers. */
export interface ParseManifestOptions {
  /**
   * The media type the bytes arrived as (a registry's Content-Type, or the parent descriptor's mediaType).
   * Generic values (`application/json`, `application/octet-stream`, `text/plain`) are ignored.
   * When the body names a different media type the parse fails, unless `preferBody` is set.
   */
  readonly contentType?: string;
  /** On a Content-Type / body mismatch, trust the body (whose digest is what was verified) instead of failing. */
  readonly preferBody?: boolean;
  /** When given, the bytes must have exactly this digest (and `size`, when given). */
  readonly expected?: { readonly digest: Digest | string; readonly size?: number };
  /** Hash algorithm of the computed digest (default sha256, or the expected digest's). */
  readonly algorithm?: DigestAlgorithm;
}

const genericContentTypes: ReadonlySet<string> = new Set([
  '',
  'application/json',
  'text/plain',
  'application/octet-stream',
  'binary/octet-stream',
]);

const decoder = new TextDecoder('utf-8', { fatal: true });

function identify(
  bytes: Uint8Array,
  options: ParseManifestOptions,
  limit: number,
  thing: string,
): { digest: Digest; size: number } {
  if (!(bytes instanceof Uint8Array)) throw new ManifestInvalidError(`invalid ${thing}: expected bytes (a Uint8Array)`);
  if (bytes.byteLength > limit) {
    throw new ManifestInvalidError(
      `${thing} is ${bytes.byteLength} bytes, over the ${limit / 1024 / 1024} MiB limit; lade does not read ${thing}s this large`,
      {
        detail: { size: bytes.byteLength, limit },
      },
    );
  }
  const algorithm: DigestAlgorithm =
    options.algorithm ?? (options.expected?.digest.startsWith('sha512:') ? 'sha512' : 'sha256');
  if (options.expected) {
    verifyBytes(bytes, {
      digest: options.expected.digest,
      ...(options.expected.size !== undefined ? { size: options.expected.size } : {}),
      name: thing,
    });
  }
  return { digest: hash(bytes, { algorithm }), size: bytes.byteLength };
}

function decodeJson(bytes: Uint8Array, thing: string): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new ManifestInvalidError(`invalid ${thing}: not UTF-8 text`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ManifestInvalidError(`invalid ${thing}: not JSON (${(cause as Error).message})`, { cause });
  }
}

function normalizeOptions(contentType?: string | ParseManifestOptions): ParseManifestOptions {
  if (contentType === undefined) return {};
  return typeof contentType === 'string' ? { contentType } : contentType;
}

/** Decides which media type the document is: body first, then the given content type, then its shape. */
function decideMediaType(body: Record<string, unknown>, options: ParseManifestOptions, thing: string): string {
  const hint = options.contentType === undefined ? '' : baseMediaType(options.contentType);
  let given = genericContentTypes.has(hint) ? undefined : hint;
  if (given !== undefined && isSchema1MediaType(given)) throw new Schema1UnsupportedError();
  const bodyHasType = typeof body.mediaType === 'string';
  // A parent descriptor may carry a vague type (`application/vnd.oci.descriptor.v1+json`); the verified body decides then.
  if (
    given !== undefined &&
    options.preferBody &&
    bodyHasType &&
    !isManifestMediaType(given) &&
    !isIndexMediaType(given)
  )
    given = undefined;
  const bodyType = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (bodyType !== undefined && isSchema1MediaType(bodyType)) throw new Schema1UnsupportedError();
  if (body.schemaVersion === 1 || 'fsLayers' in body || 'signatures' in body) throw new Schema1UnsupportedError();
  if (given !== undefined && !isManifestMediaType(given) && !isIndexMediaType(given)) {
    throw new ManifestInvalidError(
      `unsupported manifest media type "${given}": expected an OCI or Docker v2.2 manifest or index`,
      {
        detail: { mediaType: given },
      },
    );
  }
  if (bodyType !== undefined) {
    if (!isManifestMediaType(bodyType) && !isIndexMediaType(bodyType)) {
      throw new ManifestInvalidError(
        `unsupported manifest media type "${bodyType}": expected an OCI or Docker v2.2 manifest or index`,
        {
          detail: { mediaType: bodyType },
        },
      );
    }
    if (given !== undefined && given !== bodyType && !options.preferBody) {
      throw new ManifestInvalidError(
        `invalid ${thing}: served as ${given} but its mediaType is ${bodyType}; the registry or the pushing client is broken`,
        {
          detail: { contentType: given, mediaType: bodyType },
        },
      );
    }
    return bodyType;
  }
  if (given !== undefined) return given;
  if (Array.isArray(body.manifests)) return MediaType.OCI_INDEX;
  if (body.config !== undefined || Array.isArray(body.layers)) return MediaType.OCI_MANIFEST;
  throw new ManifestInvalidError(
    `invalid ${thing}: no mediaType, and it is neither a manifest (config, layers) nor an index (manifests)`,
  );
}

/**
 * Parses and validates a manifest or an index from its exact bytes. The digest is of those bytes.
 *
 * @param contentType the Content-Type it was served with or the parent descriptor's mediaType, or options.
 * @example
 * const parsed = parseManifest(bytes, response.headers.get('content-type') ?? undefined);
 * if (parsed.kind === 'index') selectManifest(parsed.index, parsePlatform('linux/arm64'));
 * @throws ManifestInvalidError (MANIFEST_INVALID) for anything malformed, Schema1UnsupportedError (UNSUPPORTED) for schema 1.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string | ParseManifestOptions): ParsedManifest {
  const options = normalizeOptions(contentType);
  const { digest, size } = identify(bytes, options, MAX_MANIFEST_SIZE, 'manifest');
  const thing = `manifest ${digest}`;
  const json = decodeJson(bytes, thing);
  const body = new Checker(thing).object(json, '');
  const mediaType = decideMediaType(body, options, thing);
  if (isIndexMediaType(mediaType)) {
    const index = new Checker(`index ${digest}`).index(body);
    return deepFreeze({ kind: 'index', mediaType, digest, size, bytes, index });
  }
  const manifest = new Checker(thing).manifest(body);
  return deepFreeze({ kind: 'manifest', mediaType, digest, size, bytes, manifest });
}

/** Parses an image manifest (OCI or Docker v2.2); an index is an error. */
export function parseImageManifest(
  bytes: Uint8Array,
  contentType?: string | ParseManifestOptions,
): ParsedImageManifest {
  const parsed = parseManifest(bytes, contentType);
  if (parsed.kind !== 'manifest') {
    throw new ManifestInvalidError(
      `manifest ${parsed.digest} is an index (${parsed.mediaType}), not an image manifest; pick a platform first`,
      {
        detail: { mediaType: parsed.mediaType },
      },
    );
  }
  return parsed;
}

/** Parses an image index or Docker manifest list; a single manifest is an error. */
export function parseImageIndex(bytes: Uint8Array, contentType?: string | ParseManifestOptions): ParsedImageIndex {
  const parsed = parseManifest(bytes, contentType);
  if (parsed.kind !== 'index') {
    throw new ManifestInvalidError(
      `manifest ${parsed.digest} is an image manifest (${parsed.mediaType}), not an index`,
      {
        detail: { mediaType: parsed.mediaType },
      },
    );
  }
  return parsed;
}

/**
 * Parses and validates an image config from its exact bytes; `digest` is the image ID.
 * @throws ManifestInvalidError (MANIFEST_INVALID) when it is not a valid config.
 */
export function parseImageConfig(
  bytes: Uint8Array,
  options: Omit<ParseManifestOptions, 'contentType' | 'preferBody'> = {},
): ParsedImageConfig {
  const { digest, size } = identify(bytes, options, MAX_CONFIG_SIZE, 'image config');
  const thing = `image config ${digest}`;
  const config = new Checker(thing).config(decodeJson(bytes, thing));
  return deepFreeze({ digest, size, bytes, config });
}

/** Freezes plain objects and arrays recursively (never typed arrays, whose bytes callers stream). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
