import { type Digest, hash } from '@lade/digest';
import { ManifestInvalidError } from './errors.js';
import { isIndexMediaType, isManifestMediaType, MediaType } from './media-types.js';
import { parseImageConfig, parseManifest } from './parse.js';
import type { Descriptor } from './transport.js';
import type { Annotations, ImageConfig, ImageIndex, ImageManifest } from './types.js';

const encoder = new TextEncoder();

/**
 * Deterministic JSON: no whitespace, object keys in the order the value was built (as Go's encoding/json emits struct
 * fields — so a manifest built by lade keeps the OCI field order `schemaVersion, mediaType, config, layers…`),
 * `undefined` members dropped, strings escaped as JSON.stringify does. The same value always gives the same bytes.
 * Non-finite numbers, bigints, functions and cycles are errors.
 */
export function canonicalJson(value: unknown): Uint8Array {
  return encoder.encode(canonicalJsonString(value));
}

/** {@link canonicalJson} as a string. */
export function canonicalJsonString(value: unknown): string {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): string | undefined => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return v ? 'true' : 'false';
      case 'number':
        if (!Number.isFinite(v))
          throw new TypeError(`canonicalJson: ${path || 'value'} is ${v}, which JSON cannot hold`);
        return JSON.stringify(v);
      case 'undefined':
        return undefined;
      case 'object': {
        if (seen.has(v)) throw new TypeError(`canonicalJson: ${path || 'value'} is a cycle`);
        seen.add(v);
        let out: string;
        if (Array.isArray(v)) {
          out = `[${v.map((x, i) => walk(x, `${path}[${i}]`) ?? 'null').join(',')}]`;
        } else {
          const parts: string[] = [];
          for (const [k, x] of Object.entries(v)) {
            const s = walk(x, path ? `${path}.${k}` : k);
            if (s !== undefined) parts.push(`${JSON.stringify(k)}:${s}`);
          }
          out = `{${parts.join(',')}}`;
        }
        seen.delete(v);
        return out;
      }
      default:
        throw new TypeError(`canonicalJson: ${path || 'value'} is a ${typeof v}, which JSON cannot hold`);
    }
  };
  const out = walk(value, '');
  if (out === undefined) throw new TypeError('canonicalJson: the value is undefined');
  return out;
}

/** Bytes and the descriptor that names them. */
export interface Built<T> {
  readonly bytes: Uint8Array;
  readonly descriptor: Descriptor;
  readonly value: T;
}

/** A descriptor for bytes. */
export function describeBytes(
  mediaType: string,
  bytes: Uint8Array,
  extra: Omit<Partial<Descriptor>, 'mediaType' | 'digest' | 'size'> = {},
): Descriptor {
  return Object.freeze({ mediaType, digest: hash(bytes) as Digest, size: bytes.byteLength, ...extra });
}

/** Copies only the defined descriptor fields, in the OCI field order. */
export function cleanDescriptor(d: Descriptor): Descriptor {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls !== undefined) out.urls = d.urls;
  if (d.annotations !== undefined) out.annotations = d.annotations;
  if (d.data !== undefined) out.data = d.data;
  if (d.platform !== undefined) out.platform = cleanPlatform(d.platform);
  if (d.artifactType !== undefined) out.artifactType = d.artifactType;
  return out as unknown as Descriptor;
}

function cleanPlatform(p: NonNullable<Descriptor['platform']>): NonNullable<Descriptor['platform']> {
  const out: Record<string, unknown> = { architecture: p.architecture, os: p.os };
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined) out['os.features'] = p['os.features'];
  if (p.variant !== undefined) out.variant = p.variant;
  if (p.features !== undefined) out.features = p.features;
  return out as unknown as NonNullable<Descriptor['platform']>;
}

/** What {@link buildManifest} takes. */
export interface BuildManifestInput {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  /** Default OCI (`application/vnd.oci.image.manifest.v1+json`); Docker v2.2 takes no `artifactType`, `subject` or `annotations`. */
  readonly mediaType?: string;
  readonly annotations?: Annotations;
  readonly subject?: Descriptor;
  readonly artifactType?: string;
}

/**
 * Builds an image manifest with canonical JSON (field order `schemaVersion, mediaType, artifactType, config, layers,
 * subject, annotations`) and validates the result as lade's parser would.
 */
export function buildManifest(input: BuildManifestInput): Built<ImageManifest> {
  const mediaType = input.mediaType ?? MediaType.OCI_MANIFEST;
  if (!isManifestMediaType(mediaType))
    throw new ManifestInvalidError(
      `cannot build a manifest of media type "${mediaType}": use an OCI or Docker v2.2 manifest type`,
    );
  if (mediaType === MediaType.DOCKER_MANIFEST && (input.artifactType || input.subject || input.annotations)) {
    throw new ManifestInvalidError(
      'a Docker v2.2 manifest has no artifactType, subject or annotations; build an OCI manifest instead',
    );
  }
  const value: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (input.artifactType !== undefined) value.artifactType = input.artifactType;
  value.config = cleanDescriptor(input.config);
  value.layers = input.layers.map(cleanDescriptor);
  if (input.subject !== undefined) value.subject = cleanDescriptor(input.subject);
  if (input.annotations !== undefined) value.annotations = input.annotations;
  const bytes = canonicalJson(value);
  const parsed = parseManifest(bytes);
  if (parsed.kind !== 'manifest') throw new ManifestInvalidError('built manifest did not parse as a manifest');
  return { bytes, descriptor: describeFor(parsed.mediaType, bytes, input.artifactType), value: parsed.manifest };
}

/** What {@link buildIndex} takes. */
export interface BuildIndexInput {
  readonly manifests: readonly Descriptor[];
  /** Default OCI (`application/vnd.oci.image.index.v1+json`). */
  readonly mediaType?: string;
  readonly annotations?: Annotations;
  readonly subject?: Descriptor;
  readonly artifactType?: string;
}

/** Builds an image index (or a Docker manifest list) with canonical JSON. */
export function buildIndex(input: BuildIndexInput): Built<ImageIndex> {
  const mediaType = input.mediaType ?? MediaType.OCI_INDEX;
  if (!isIndexMediaType(mediaType))
    throw new ManifestInvalidError(
      `cannot build an index of media type "${mediaType}": use an OCI index or a Docker manifest list type`,
    );
  if (mediaType === MediaType.DOCKER_MANIFEST_LIST && (input.artifactType || input.subject || input.annotations)) {
    throw new ManifestInvalidError(
      'a Docker manifest list has no artifactType, subject or annotations; build an OCI index instead',
    );
  }
  const value: Record<string, unknown> = { schemaVersion: 2, mediaType };
  if (input.artifactType !== undefined) value.artifactType = input.artifactType;
  value.manifests = input.manifests.map(cleanDescriptor);
  if (input.subject !== undefined) value.subject = cleanDescriptor(input.subject);
  if (input.annotations !== undefined) value.annotations = input.annotations;
  const bytes = canonicalJson(value);
  const parsed = parseManifest(bytes);
  if (parsed.kind !== 'index') throw new ManifestInvalidError('built index did not parse as an index');
  return { bytes, descriptor: describeFor(parsed.mediaType, bytes, input.artifactType), value: parsed.index };
}

function describeFor(mediaType: string, bytes: Uint8Array, artifactType: string | undefined): Descriptor {
  return describeBytes(mediaType, bytes, artifactType !== undefined ? { artifactType } : {});
}

/** Options of {@link buildConfig}. */
export interface BuildConfigOptions {
  /** Default OCI (`application/vnd.oci.image.config.v1+json`); Docker's is `application/vnd.docker.container.image.v1+json`. */
  readonly mediaType?: string;
}

/** Builds an image config with canonical JSON (field order as given) and validates it; the descriptor's digest is the image ID. */
export function buildConfig(config: ImageConfig, options: BuildConfigOptions = {}): Built<ImageConfig> {
  const bytes = canonicalJson(config);
  const parsed = parseImageConfig(bytes);
  return { bytes, descriptor: describeBytes(options.mediaType ?? MediaType.OCI_CONFIG, bytes), value: parsed.config };
}

/** The OCI empty JSON blob `{}` — the config of artifacts that have none. */
export const EMPTY_JSON: Uint8Array = new TextEncoder().encode('{}');

/** The descriptor of {@link EMPTY_JSON} (`application/vnd.oci.empty.v1+json`, sha256:44136fa…, 2 bytes), with the bytes embedded as `data`. */
export const emptyConfig: Descriptor = Object.freeze({
  mediaType: MediaType.OCI_EMPTY,
  digest: hash(EMPTY_JSON),
  size: 2,
  data: 'e30=',
});
