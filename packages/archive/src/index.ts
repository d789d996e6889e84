export {
  type Archive,
  type ArchiveImage,
  type ArchiveInput,
  archiveSource,
  normalizeMemberPath,
  type OpenArchiveOptions,
  openArchive,
} from './archive-read.js';
export {
  type ArchiveFormat,
  ArchiveWriter,
  type ArchiveWriterOptions,
  archiveFileSink,
  createArchiveWriter,
  type LoadOptions,
  type LoadResult,
  loadArchive,
  type SaveImage,
  type SaveOptions,
  type SaveResult,
  saveImages,
  type WrittenImage,
} from './archive-write.js';
export {
  type Compression,
  type CompressionBackend,
  type CompressOptions,
  compressLayer,
  compressStream,
  type DecompressOptions,
  decompress,
  decompressStream,
  defaultCompressionBackend,
  detectCompression,
  LayerDigestStream,
  type LayerDigests,
  layerDigestStream,
  nativeZstdAvailable,
  sniffCompression,
} from './compression.js';
export { ArchiveError, ArchiveUnsupportedError, CompressionError, SpoolError, TarError } from './errors.js';
export type { TarEntryInit, TarEntryType, TarFormat, TarHeader, TarSparseInfo } from './tar/header.js';
export { readTar, readTarFile, type TarEntry, TarReader, type TarReadOptions } from './tar/reader.js';
export {
  createTarWriter,
  encodeTarHeader,
  type ResolvedEntry,
  resolveEntry,
  type TarWriteEntry,
  type TarWriteFormat,
  type TarWriteOptions,
  type TarWriter,
  writeTar,
} from './tar/writer.js';
