import { type Digest, isDigest } from '@lade/digest';
import { RegistryError } from './errors.js';
import { MediaTypes } from './names.js';

/** A descriptor as it appears inside a pushed manifest (validated shape only). */
export interface ManifestDescriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly urls?: readonly string[];
}

/** What the registry needs to know about a pushed manifest or index. */
export interface ParsedManifest {
  readonly kind: 'manifest' | 'index';
  readonly mediaType: string;
  readonly config?: ManifestDescriptor;
  readonly layers: readonly ManifestDescriptor[];
  readonly manifests: readonly ManifestDescriptor[];
  readonly subject?: ManifestDescriptor;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

const indexTypes = new Set<string>([MediaTypes.ociIndex, MediaTypes.dockerManifestList]);
const manifestTypes = new Set<string>([MediaTypes.ociManifest, MediaTypes.dockerManifest]);
const decoder = new TextDecoder('utf-8', { fatal: true });

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail === undefined ? {} : { detail });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || !Object.values(v).every((x) => typeof x === 'string'))
    throw invalid(`manifest ${where} must be a map of strings`);
  return v as Record<string, string>;
}

function descriptor(v: unknown, where: string): ManifestDescriptor {
  if (!isObject(v)) throw invalid(`manifest ${where} must be a descriptor object`);
  const { mediaType, digest, size, artifactType, annotations, urls } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw invalid(`manifest ${where} has no mediaType`);
  if (typeof digest !== 'string' || !isDigest(digest))
    throw invalid(`manifest ${where} has an invalid digest "${String(digest)}"`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw invalid(`manifest ${where} has an invalid size`);
  const out: { -readonly [K in keyof ManifestDescriptor]: ManifestDescriptor[K] } = { mediaType, digest, size };
  if (typeof artifactType === 'string') out.artifactType = artifactType;
  const ann = stringMap(annotations, `${where}.annotations`);
  if (ann) out.annotations = ann;
  if (Array.isArray(urls) && urls.every((u) => typeof u === 'string')) out.urls = urls as string[];
  return out;
}

/**
 * Parses and validates pushed manifest bytes. `contentType` is the request's Content-Type (parameters ignored).
 * Throws MANIFEST_INVALID for anything that is not a schema-2 image manifest, index or artifact manifest.
 */
export function parseManifestBody(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw invalid('manifest is not valid UTF-8 JSON; push the exact manifest bytes', { cause: String(err) });
  }
  if (!isObject(json)) throw invalid('manifest must be a JSON object');
  if (json.schemaVersion === 1) throw invalid('schema 1 manifests are not supported; push a schema 2 or OCI manifest');
  if (json.schemaVersion !== 2)
    throw invalid(`manifest schemaVersion must be 2, got ${JSON.stringify(json.schemaVersion)}`);
  const ct = contentType?.split(';', 1)[0]?.trim().toLowerCase() || undefined;
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  if (json.mediaType !== undefined && declared === undefined) throw invalid('manifest mediaType must be a string');
  const ctKnown = ct !== undefined && (indexTypes.has(ct) || manifestTypes.has(ct));
  if (declared && ctKnown && ct !== declared) {
    throw invalid(
      `Content-Type ${ct} does not match the manifest's mediaType ${declared}; send the manifest's own media type`,
    );
  }
  let mediaType = declared ?? (ctKnown ? ct : undefined);
  const hasManifests = Array.isArray(json.manifests);
  const kind: 'manifest' | 'index' = mediaType
    ? indexTypes.has(mediaType)
      ? 'index'
      : 'manifest'
    : hasManifests
      ? 'index'
      : 'manifest';
  mediaType ??= kind === 'index' ? MediaTypes.ociIndex : MediaTypes.ociManifest;
  const artifactType = typeof json.artifactType === 'string' ? json.artifactType : undefined;
  const annotations = stringMap(json.annotations, 'annotations');
  const subject = json.subject === undefined || json.subject === null ? undefined : descriptor(json.subject, 'subject');
  const base = {
    mediaType,
    ...(subject ? { subject } : {}),
    ...(artifactType ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
  if (kind === 'index') {
    if (!hasManifests) throw invalid('index has no "manifests" array');
    const manifests = (json.manifests as unknown[]).map((m, i) => descriptor(m, `manifests[${i}]`));
    return { kind, layers: [], manifests, ...base };
  }
  if (json.config === undefined) throw invalid('manifest has no "config" descriptor');
  const config = descriptor(json.config, 'config');
  if (json.layers !== undefined && !Array.isArray(json.layers)) throw invalid('manifest "layers" must be an array');
  const layers = ((json.layers as unknown[] | undefined) ?? []).map((l, i) => descriptor(l, `layers[${i}]`));
  return { kind, config, layers, manifests: [], ...base };
}

/** The media type to serve stored manifest bytes with (the body's own `mediaType`, or what its shape implies). */
export function manifestMediaType(bytes: Uint8Array): string {
  try {
    const json = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
    if (typeof json.mediaType === 'string') return json.mediaType;
    if (json.schemaVersion === 1) return json.signatures ? MediaTypes.dockerSchema1Signed : MediaTypes.dockerSchema1;
    return Array.isArray(json.manifests) ? MediaTypes.ociIndex : MediaTypes.ociManifest;
  } catch {
    return MediaTypes.ociManifest;
  }
}
