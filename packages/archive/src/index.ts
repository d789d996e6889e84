export { TarError, ArchiveError, CompressionError, ArchiveUnsupportedError, SpoolError } from './errors.js';
export type { TarEntryType, TarFormat, TarHeader, TarSparseInfo, TarEntryInit } from './tar/header.js';
export { type TarReadOptions, type TarEntry, TarReader, readTar } from './tar/reader.js';
export {
  type TarWriteFormat,
  type TarWriteEntry,
  type TarWriteOptions,
  type TarWriter,
  type ResolvedEntry,
  writeTar,
  createTarWriter,
  encodeTarHeader,
  resolveEntry,
} from './tar/writer.js';
export {
  type Compression,
  type CompressionBackend,
  type DecompressOptions,
  type CompressOptions,
  type LayerDigests,
  detectCompression,
  sniffCompression,
  decompressStream,
  decompress,
  compressStream,
  compressLayer,
  LayerDigestStream,
  layerDigestStream,
  nativeZstdAvailable,
  defaultCompressionBackend,
} from './compression.js';
export { type ArchiveInput, type OpenArchiveOptions, type ArchiveImage, type Archive, openArchive, normalizeMemberPath } from './archive-read.js';
export {
  type ArchiveFormat,
  type ArchiveWriterOptions,
  type WrittenImage,
  type SaveImage,
  type SaveOptions,
  type SaveResult,
  type LoadResult,
  type LoadOptions,
  ArchiveWriter,
  createArchiveWriter,
  saveImages,
  archiveFileSink,
  loadArchive,
} from './archive-write.js';
