export { readBounded } from './bounded-read.js';
export {
  type BuildConfigOptions,
  type BuildIndexInput,
  type BuildManifestInput,
  type Built,
  buildConfig,
  buildIndex,
  buildManifest,
  canonicalJson,
  canonicalJsonString,
  describeBytes,
  EMPTY_JSON,
  emptyConfig,
} from './build.js';
export {
  type ChildDescriptors,
  type ConvertedManifest,
  convertConfigMediaType,
  convertLayerMediaType,
  type ImageFormat,
  toDockerManifest,
  toDockerManifestList,
  toOciIndex,
  toOciManifest,
} from './convert.js';
export { type BlobRole, type CopyEvent, type CopyOptions, type CopyResult, copy } from './copy.js';
export {
  ManifestInvalidError,
  NoMatchingManifestError,
  PlatformInvalidError,
  SCHEMA1_MESSAGE,
  Schema1UnsupportedError,
  UnsupportedError,
} from './errors.js';
export {
  baseMediaType,
  isConfigMediaType,
  isForeignLayer,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  isValidMediaType,
  type KnownMediaType,
  type LayerCompression,
  layerCompression,
  MANIFEST_ACCEPT,
  MANIFEST_ACCEPT_HEADER,
  MediaType,
} from './media-types.js';
export { MemoryImageStore, type PutImageInput, type PutImageResult, type StoredManifest } from './memory-store.js';
export {
  handOver,
  markOwnedChunks,
  ownsChunks,
  releaseChunk,
  Slab,
  SlabPool,
  slabPool,
} from './owned-chunks.js';
export {
  MAX_CONFIG_SIZE,
  MAX_MANIFEST_SIZE,
  type ParseManifestOptions,
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  parseManifest,
} from './parse.js';
export {
  compatiblePlatforms,
  type FormatPlatformOptions,
  formatPlatform,
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformCompatible,
  platformMatches,
  type SelectManifestOptions,
  selectManifest,
} from './platform.js';
export type {
  Descriptor,
  ImageSink,
  ImageSource,
  OpenBlobOptions,
  Platform,
  TransportOptions,
  WriteBlobOptions,
  WriteManifestOptions,
} from './transport.js';
export type {
  Annotations,
  ContainerConfig,
  HistoryEntry,
  ImageConfig,
  ImageIndex,
  ImageManifest,
  ParsedImageConfig,
  ParsedImageIndex,
  ParsedImageManifest,
  ParsedManifest,
} from './types.js';
