export type {
  Descriptor,
  Platform,
  ImageSource,
  ImageSink,
  TransportOptions,
  OpenBlobOptions,
  WriteBlobOptions,
  WriteManifestOptions,
} from './transport.js';
export {
  MediaType,
  type KnownMediaType,
  MANIFEST_ACCEPT,
  MANIFEST_ACCEPT_HEADER,
  baseMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isSchema1MediaType,
  isLayerMediaType,
  isConfigMediaType,
  type LayerCompression,
  layerCompression,
  isForeignLayer,
  isValidMediaType,
} from './media-types.js';
export {
  ManifestInvalidError,
  UnsupportedError,
  Schema1UnsupportedError,
  SCHEMA1_MESSAGE,
  PlatformInvalidError,
  NoMatchingManifestError,
} from './errors.js';
export type {
  Annotations,
  ImageManifest,
  ImageIndex,
  ImageConfig,
  ContainerConfig,
  HistoryEntry,
  ParsedManifest,
  ParsedImageManifest,
  ParsedImageIndex,
  ParsedImageConfig,
} from './types.js';
export {
  MAX_MANIFEST_SIZE,
  MAX_CONFIG_SIZE,
  type ParseManifestOptions,
  parseManifest,
  parseImageManifest,
  parseImageIndex,
  parseImageConfig,
} from './parse.js';
export {
  parsePlatform,
  formatPlatform,
  type FormatPlatformOptions,
  normalizePlatform,
  platformMatches,
  platformCompatible,
  compatiblePlatforms,
  hostPlatform,
  selectManifest,
  type SelectManifestOptions,
} from './platform.js';
export {
  canonicalJson,
  canonicalJsonString,
  type Built,
  describeBytes,
  buildManifest,
  type BuildManifestInput,
  buildIndex,
  type BuildIndexInput,
  buildConfig,
  type BuildConfigOptions,
  EMPTY_JSON,
  emptyConfig,
} from './build.js';
export {
  type ImageFormat,
  type ConvertedManifest,
  type ChildDescriptors,
  convertLayerMediaType,
  convertConfigMediaType,
  toOciManifest,
  toDockerManifest,
  toOciIndex,
  toDockerManifestList,
} from './convert.js';
export { copy, type CopyOptions, type CopyResult, type CopyEvent, type BlobRole } from './copy.js';
export { MemoryImageStore, type StoredManifest, type PutImageInput, type PutImageResult } from './memory-store.js';
