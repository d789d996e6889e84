import type { Descriptor } from './transport.js';

/**
 * Media types of the OCI image spec, Docker's image manifest v2 schema 2 and common artifacts.
 * `DOCKER_SCHEMA1_*` exist only so parsers can recognise and reject them.
 */
export const MediaType = Object.freeze({
  OCI_MANIFEST: 'application/vnd.oci.image.manifest.v1+json',
  OCI_INDEX: 'application/vnd.oci.image.index.v1+json',
  OCI_CONFIG: 'application/vnd.oci.image.config.v1+json',
  OCI_LAYER: 'application/vnd.oci.image.layer.v1.tar',
  OCI_LAYER_GZIP: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OCI_LAYER_ZSTD: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OCI_LAYER_NONDIST: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OCI_LAYER_NONDIST_GZIP: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OCI_LAYER_NONDIST_ZSTD: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  OCI_EMPTY: 'application/vnd.oci.empty.v1+json',
  OCI_LAYOUT_HEADER: 'application/vnd.oci.layout.header.v1+json',
  DOCKER_MANIFEST: 'application/vnd.docker.distribution.manifest.v2+json',
  DOCKER_MANIFEST_LIST: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DOCKER_CONFIG: 'application/vnd.docker.container.image.v1+json',
  DOCKER_LAYER: 'application/vnd.docker.image.rootfs.diff.tar',
  DOCKER_LAYER_GZIP: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DOCKER_LAYER_FOREIGN: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  DOCKER_LAYER_FOREIGN_GZIP: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DOCKER_PLUGIN_CONFIG: 'application/vnd.docker.plugin.v1+json',
  DOCKER_SCHEMA1_MANIFEST: 'application/vnd.docker.distribution.manifest.v1+json',
  DOCKER_SCHEMA1_SIGNED: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  HELM_CONFIG: 'application/vnd.cncf.helm.config.v1+json',
  HELM_CHART: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
} as const);

/** One of the {@link MediaType} constants. */
export type KnownMediaType = (typeof MediaType)[keyof typeof MediaType];

/**
 * The `Accept` list for fetching a manifest from a registry: OCI and Docker v2.2 manifests and indexes/lists.
 * Schema 1 is deliberately absent, so registries that can convert serve schema 2 instead.
 */
export const MANIFEST_ACCEPT: readonly string[] = Object.freeze([
  MediaType.OCI_INDEX,
  MediaType.OCI_MANIFEST,
  MediaType.DOCKER_MANIFEST_LIST,
  MediaType.DOCKER_MANIFEST,
]);

/** The `Accept` header value built from {@link MANIFEST_ACCEPT}. */
export const MANIFEST_ACCEPT_HEADER: string = MANIFEST_ACCEPT.join(', ');

/** Strips parameters (`; charset=utf-8`) and whitespace and lower-cases a media type or Content-Type value. */
export function baseMediaType(contentType: string): string {
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** An OCI image index or a Docker manifest list. */
export function isIndexMediaType(mediaType: string): boolean {
  const m = baseMediaType(mediaType);
  return m === MediaType.OCI_INDEX || m === MediaType.DOCKER_MANIFEST_LIST;
}

/** An OCI image manifest or a Docker v2.2 manifest (schema 1 is not: lade does not read it). */
export function isManifestMediaType(mediaType: string): boolean {
  const m = baseMediaType(mediaType);
  return m === MediaType.OCI_MANIFEST || m === MediaType.DOCKER_MANIFEST;
}

/** Docker schema 1 (signed or not), which lade recognises only to reject. */
export function isSchema1MediaType(mediaType: string): boolean {
  const m = baseMediaType(mediaType);
  return m === MediaType.DOCKER_SCHEMA1_MANIFEST || m === MediaType.DOCKER_SCHEMA1_SIGNED;
}

const layerTypes: ReadonlySet<string> = new Set([
  MediaType.OCI_LAYER,
  MediaType.OCI_LAYER_GZIP,
  MediaType.OCI_LAYER_ZSTD,
  MediaType.OCI_LAYER_NONDIST,
  MediaType.OCI_LAYER_NONDIST_GZIP,
  MediaType.OCI_LAYER_NONDIST_ZSTD,
  MediaType.DOCKER_LAYER,
  MediaType.DOCKER_LAYER_GZIP,
  MediaType.DOCKER_LAYER_FOREIGN,
  MediaType.DOCKER_LAYER_FOREIGN_GZIP,
]);

/** A filesystem layer of a container image (OCI or Docker, any compression, distributable or not). Artifact layers are not. */
export function isLayerMediaType(mediaType: string): boolean {
  return layerTypes.has(baseMediaType(mediaType));
}

/** An image configuration (OCI or Docker). Artifact configs such as Helm's or the empty descriptor are not. */
export function isConfigMediaType(mediaType: string): boolean {
  const m = baseMediaType(mediaType);
  return m === MediaType.OCI_CONFIG || m === MediaType.DOCKER_CONFIG;
}

/** How a layer's bytes are compressed, read from its media type suffix (`+gzip`, `.gzip`, `+zstd`); anything else is `none`. */
export type LayerCompression = 'gzip' | 'zstd' | 'none';

/** The compression a layer media type declares. */
export function layerCompression(mediaType: string): LayerCompression {
  const m = baseMediaType(mediaType);
  if (m.endsWith('+gzip') || m.endsWith('.gzip')) return 'gzip';
  if (m.endsWith('+zstd') || m.endsWith('.zstd')) return 'zstd';
  return 'none';
}

const foreignTypes: ReadonlySet<string> = new Set([
  MediaType.OCI_LAYER_NONDIST,
  MediaType.OCI_LAYER_NONDIST_GZIP,
  MediaType.OCI_LAYER_NONDIST_ZSTD,
  MediaType.DOCKER_LAYER_FOREIGN,
  MediaType.DOCKER_LAYER_FOREIGN_GZIP,
]);

/**
 * A foreign (Docker) or non-distributable (OCI) layer — one registries need not hold, typically fetched from its `urls`
 * (Windows base layers). Given a descriptor, a layer that lists `urls` counts as foreign too.
 */
export function isForeignLayer(layer: string | Pick<Descriptor, 'mediaType' | 'urls'>): boolean {
  if (typeof layer === 'string') return foreignTypes.has(baseMediaType(layer));
  return foreignTypes.has(baseMediaType(layer.mediaType)) || (layer.urls !== undefined && layer.urls.length > 0);
}

// RFC 6838 restricted-name, as the OCI descriptor spec requires.
const mediaTypePattern = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** True when `value` is a syntactically valid media type (RFC 6838 `type/subtype`, no parameters). */
export function isValidMediaType(value: string): boolean {
  return mediaTypePattern.test(value);
}
