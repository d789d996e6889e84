// Docker v2.2 ⇄ OCI: the same JSON shapes with different media types; blobs never change, manifests get new bytes.
import type { Digest } from '@lade/digest';
import { type Built, buildIndex, buildManifest, describeBytes } from './build.js';
import { ManifestInvalidError, UnsupportedError } from './errors.js';
import { baseMediaType, isIndexMediaType, isManifestMediaType, MediaType } from './media-types.js';
import type { Descriptor } from './transport.js';
import type { ImageIndex, ImageManifest, ParsedImageIndex, ParsedImageManifest } from './types.js';

/** The two manifest formats: OCI image spec, or Docker image manifest v2 schema 2 (`v2s2`, skopeo's name). */
export type ImageFormat = 'oci' | 'v2s2';

const layerToOci: Readonly<Record<string, string>> = {
  [MediaType.DOCKER_LAYER]: MediaType.OCI_LAYER,
  [MediaType.DOCKER_LAYER_GZIP]: MediaType.OCI_LAYER_GZIP,
  [MediaType.DOCKER_LAYER_FOREIGN]: MediaType.OCI_LAYER_NONDIST,
  [MediaType.DOCKER_LAYER_FOREIGN_GZIP]: MediaType.OCI_LAYER_NONDIST_GZIP,
};

const layerToDocker: Readonly<Record<string, string>> = {
  [MediaType.OCI_LAYER]: MediaType.DOCKER_LAYER,
  [MediaType.OCI_LAYER_GZIP]: MediaType.DOCKER_LAYER_GZIP,
  [MediaType.OCI_LAYER_NONDIST]: MediaType.DOCKER_LAYER_FOREIGN,
  [MediaType.OCI_LAYER_NONDIST_GZIP]: MediaType.DOCKER_LAYER_FOREIGN_GZIP,
};

/**
 * The layer media type in the other format. Types already in the target format pass unchanged.
 * @throws UnsupportedError (UNSUPPORTED) for zstd layers to Docker (Docker v2.2 has no zstd type) and for non-image layers.
 */
export function convertLayerMediaType(mediaType: string, to: ImageFormat): string {
  const m = baseMediaType(mediaType);
  if (to === 'oci') {
    if (layerToOci[m]) return layerToOci[m]!;
    if (layerToDocker[m] || m === MediaType.OCI_LAYER_ZSTD || m === MediaType.OCI_LAYER_NONDIST_ZSTD) return m;
  } else {
    if (layerToDocker[m]) return layerToDocker[m]!;
    if (layerToOci[m]) return m;
    if (m === MediaType.OCI_LAYER_ZSTD || m === MediaType.OCI_LAYER_NONDIST_ZSTD) {
      throw new UnsupportedError(
        `a zstd layer (${m}) cannot be stored in a Docker v2.2 manifest, which has no zstd layer type; keep the OCI format`,
      );
    }
  }
  throw new UnsupportedError(
    `"${mediaType}" is not an image layer media type; only image layers convert between OCI and Docker v2.2`,
  );
}

/**
 * The image config media type in the other format (the config bytes stay the same: both formats share the JSON).
 * @throws UnsupportedError for artifact configs (Helm, empty, …), which Docker v2.2 cannot carry.
 */
export function convertConfigMediaType(mediaType: string, to: ImageFormat): string {
  const m = baseMediaType(mediaType);
  if (m === MediaType.OCI_CONFIG || m === MediaType.DOCKER_CONFIG)
    return to === 'oci' ? MediaType.OCI_CONFIG : MediaType.DOCKER_CONFIG;
  if (to === 'oci') return m;
  throw new UnsupportedError(
    `config media type "${mediaType}" is an artifact's, which a Docker v2.2 manifest cannot carry; keep the OCI format`,
  );
}

/** A manifest in a target format: new bytes and descriptor when it changed, the original ones when it was already there. */
export interface ConvertedManifest<T> extends Built<T> {
  /** False when the input already was in the target format (bytes and digest unchanged). */
  readonly changed: boolean;
}

type ManifestInput = ParsedImageManifest | ImageManifest;
type IndexInput = ParsedImageIndex | ImageIndex;

function manifestOf(input: ManifestInput): { manifest: ImageManifest; parsed?: ParsedImageManifest } {
  return 'kind' in input ? { manifest: input.manifest, parsed: input } : { manifest: input };
}

function indexOf(input: IndexInput): { index: ImageIndex; parsed?: ParsedImageIndex } {
  return 'kind' in input ? { index: input.index, parsed: input } : { index: input };
}

function unchanged<T>(
  parsed: { bytes: Uint8Array; mediaType: string; digest: Digest; size: number },
  value: T,
  artifactType?: string,
): ConvertedManifest<T> {
  return {
    bytes: parsed.bytes,
    descriptor: describeBytes(parsed.mediaType, parsed.bytes, artifactType !== undefined ? { artifactType } : {}),
    value,
    changed: false,
  };
}

function withMediaType(d: Descriptor, mediaType: string): Descriptor {
  return { ...d, mediaType };
}

/** Converts a Docker v2.2 manifest to an OCI image manifest (config and layer media types too). */
export function toOciManifest(input: ManifestInput): ConvertedManifest<ImageManifest> {
  const { manifest, parsed } = manifestOf(input);
  const mediaType = manifest.mediaType ?? parsed?.mediaType ?? MediaType.OCI_MANIFEST;
  if (!isManifestMediaType(mediaType))
    throw new ManifestInvalidError(`cannot convert "${mediaType}" as an image manifest`);
  if (mediaType === MediaType.OCI_MANIFEST && parsed) return unchanged(parsed, manifest, manifest.artifactType);
  const built = buildManifest({
    mediaType: MediaType.OCI_MANIFEST,
    config: withMediaType(manifest.config, convertConfigMediaType(manifest.config.mediaType, 'oci')),
    layers: manifest.layers.map((l) => withMediaType(l, convertLayerMediaType(l.mediaType, 'oci'))),
    ...(manifest.annotations !== undefined ? { annotations: manifest.annotations } : {}),
    ...(manifest.subject !== undefined ? { subject: manifest.subject } : {}),
    ...(manifest.artifactType !== undefined ? { artifactType: manifest.artifactType } : {}),
  });
  return { ...built, changed: true };
}

/**
 * Converts an OCI image manifest to Docker v2.2. Manifest annotations are dropped (Docker v2.2 has none).
 * @throws UnsupportedError for zstd layers, artifacts (`artifactType`, non-image configs) and referrers (`subject`).
 */
export function toDockerManifest(input: ManifestInput): ConvertedManifest<ImageManifest> {
  const { manifest, parsed } = manifestOf(input);
  const mediaType = manifest.mediaType ?? parsed?.mediaType ?? MediaType.OCI_MANIFEST;
  if (!isManifestMediaType(mediaType))
    throw new ManifestInvalidError(`cannot convert "${mediaType}" as an image manifest`);
  if (mediaType === MediaType.DOCKER_MANIFEST && parsed) return unchanged(parsed, manifest);
  if (manifest.artifactType !== undefined) {
    throw new UnsupportedError(
      `an artifact manifest (artifactType ${manifest.artifactType}) cannot be a Docker v2.2 manifest; keep the OCI format`,
    );
  }
  if (manifest.subject !== undefined) {
    throw new UnsupportedError(
      `a manifest that refers to ${manifest.subject.digest} (subject) cannot be a Docker v2.2 manifest; keep the OCI format`,
    );
  }
  const built = buildManifest({
    mediaType: MediaType.DOCKER_MANIFEST,
    config: withMediaType(manifest.config, convertConfigMediaType(manifest.config.mediaType, 'v2s2')),
    layers: manifest.layers.map((l) => withMediaType(l, convertLayerMediaType(l.mediaType, 'v2s2'))),
  });
  return { ...built, changed: true };
}

/** Replacement descriptors for an index's children (old digest → new descriptor), when the children were converted too. */
export type ChildDescriptors = ReadonlyMap<string, Descriptor>;

function replaceChild(d: Descriptor, children: ChildDescriptors | undefined): Descriptor {
  const r = children?.get(d.digest);
  if (!r) return d;
  return { ...d, mediaType: r.mediaType, digest: r.digest, size: r.size };
}

/**
 * Converts a Docker manifest list to an OCI image index. Children whose digest is in `children` take the new
 * descriptor's mediaType, digest and size (platform and annotations stay); other children are kept as they are.
 */
export function toOciIndex(input: IndexInput, children?: ChildDescriptors): ConvertedManifest<ImageIndex> {
  const { index, parsed } = indexOf(input);
  const mediaType = index.mediaType ?? parsed?.mediaType ?? MediaType.OCI_INDEX;
  if (!isIndexMediaType(mediaType)) throw new ManifestInvalidError(`cannot convert "${mediaType}" as an index`);
  const manifests = index.manifests.map((d) => replaceChild(d, children));
  const same = manifests.every((d, i) => d === index.manifests[i]);
  if (mediaType === MediaType.OCI_INDEX && parsed && same) return unchanged(parsed, index, index.artifactType);
  const built = buildIndex({
    mediaType: MediaType.OCI_INDEX,
    manifests,
    ...(index.annotations !== undefined ? { annotations: index.annotations } : {}),
    ...(index.subject !== undefined ? { subject: index.subject } : {}),
    ...(index.artifactType !== undefined ? { artifactType: index.artifactType } : {}),
  });
  return { ...built, changed: true };
}

/**
 * Converts an OCI image index to a Docker manifest list (children as in {@link toOciIndex}). Index annotations are dropped.
 * @throws UnsupportedError for nested indexes, artifacts and referrers, which a manifest list cannot express.
 */
export function toDockerManifestList(input: IndexInput, children?: ChildDescriptors): ConvertedManifest<ImageIndex> {
  const { index, parsed } = indexOf(input);
  const mediaType = index.mediaType ?? parsed?.mediaType ?? MediaType.OCI_INDEX;
  if (!isIndexMediaType(mediaType)) throw new ManifestInvalidError(`cannot convert "${mediaType}" as an index`);
  const manifests = index.manifests.map((d) => replaceChild(d, children));
  const same = manifests.every((d, i) => d === index.manifests[i]);
  if (mediaType === MediaType.DOCKER_MANIFEST_LIST && parsed && same) return unchanged(parsed, index);
  if (index.artifactType !== undefined || index.subject !== undefined) {
    throw new UnsupportedError(
      'an index with artifactType or subject cannot be a Docker manifest list; keep the OCI format',
    );
  }
  for (const d of manifests) {
    if (!isManifestMediaType(d.mediaType)) {
      throw new UnsupportedError(
        `a Docker manifest list cannot hold ${d.mediaType} (${d.digest}); keep the OCI format`,
      );
    }
  }
  const built = buildIndex({ mediaType: MediaType.DOCKER_MANIFEST_LIST, manifests });
  return { ...built, changed: true };
}
