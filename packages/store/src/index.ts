export type { BlobInfo, BlobStore, ByteRange, IngestExpectation, IngestOptions } from './blob-store.js';
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
export {
  FsBlobStore,
  type FsBlobStoreOptions,
  INGEST_DIR,
  type IngestTempFile,
  type StrayBlobEntry,
} from './fs-blob-store.js';
export {
  CREATED_ANNOTATION,
  type DfImage,
  type DfReport,
  defaultStoreRoot,
  type HistoryRow,
  ID_ANNOTATION,
  type ImageFilters,
  type ImageInspect,
  type ImageRow,
  ImageStore,
  LABELS_ANNOTATION,
  type ListImagesOptions,
  NAME_ANNOTATION,
  type OpenStoreOptions,
  type PruneOptions,
  type PruneResult,
  PULLED_ANNOTATION,
  REPO_DIGESTS_ANNOTATION,
  type RemoveEvent,
  type RemoveOptions,
  type ResolvedImage,
  SIZE_ANNOTATION,
  type StoreSinkOptions,
  TAGGED_ANNOTATION,
} from './image-store.js';
export {
  type IndexUpdate,
  OCI_LAYOUT_VERSION,
  type OciIndexFile,
  OciLayout,
  type OpenLayoutOptions,
  REF_NAME_ANNOTATION,
} from './layout.js';
export {
  isValidRefName,
  LayoutImageSink,
  LayoutImageSource,
  ociLayoutSink,
  ociLayoutSource,
  type PendingRoot,
} from './layout-transport.js';
export { acquireLock, type LockHandle, type LockOptions, type LockOwner, withLock } from './lock.js';
export type { FsckGarbage, FsckOptions, FsckReport, GcReport } from './maintenance.js';
export { MemoryBlobStore } from './memory-blob-store.js';
export { type ImageName, parseImageName } from './names.js';
