export type { BlobStore, BlobInfo, ByteRange, IngestExpectation, IngestOptions } from './blob-store.js';
export { FsBlobStore, type FsBlobStoreOptions, type IngestTempFile, type StrayBlobEntry, INGEST_DIR } from './fs-blob-store.js';
export { MemoryBlobStore } from './memory-blob-store.js';
export {
  AbortedError,
  AmbiguousImageError,
  BlobUnknownError,
  ImageConflictError,
  ImageUnknownError,
  LayoutInvalidError,
  LockTimeoutError,
  ManifestUnknownError,
  NameInvalidError,
  RangeInvalidError,
} from './errors.js';
export { acquireLock, withLock, type LockHandle, type LockOptions, type LockOwner } from './lock.js';
export { OciLayout, type OciIndexFile, type IndexUpdate, type OpenLayoutOptions, REF_NAME_ANNOTATION, OCI_LAYOUT_VERSION } from './layout.js';
export {
  LayoutImageSink,
  LayoutImageSource,
  ociLayoutSink,
  ociLayoutSource,
  isValidRefName,
  type PendingRoot,
} from './layout-transport.js';
export {
  ImageStore,
  defaultStoreRoot,
  NAME_ANNOTATION,
  REPO_DIGESTS_ANNOTATION,
  TAGGED_ANNOTATION,
  PULLED_ANNOTATION,
  ID_ANNOTATION,
  SIZE_ANNOTATION,
  CREATED_ANNOTATION,
  LABELS_ANNOTATION,
  type ImageRow,
  type ImageFilters,
  type ListImagesOptions,
  type ResolvedImage,
  type RemoveEvent,
  type RemoveOptions,
  type PruneResult,
  type ImageInspect,
  type HistoryRow,
  type DfImage,
  type DfReport,
  type StoreSinkOptions,
  type OpenStoreOptions,
} from './image-store.js';
export type { GcReport, FsckReport, FsckGarbage, FsckOptions } from './maintenance.js';
export { type ImageName, parseImageName } from './names.js';
