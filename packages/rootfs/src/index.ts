export { LayerInvalidError, LayerDigestError, RootfsExistsError, UnpackRecordError } from './errors.js';
export { type ApplyLayerOptions, type ApplyLayerResult, type RootfsWarning, applyLayer } from './apply.js';
export { type OpenLayerOptions, type OpenedLayer, openLayer } from './layer-stream.js';
export {
  type LoadedImage,
  type LoadImageOptions,
  type UnpackImageOptions,
  type UnpackImageResult,
  loadImage,
  unpackImage,
} from './image.js';
export {
  type TreeEntry,
  type TreeEntryType,
  type UnpackRecord,
  type UnpackedImage,
  type ScanTreeOptions,
  scanTree,
  hashFile,
  readUnpackRecord,
  writeUnpackRecord,
} from './record.js';
export { type Change, type ChangeKind, type DiffOptions, type DiffLayerOptions, diffDirectory, diffLayer, formatChanges } from './diff.js';
export { type FlattenOptions, flattenImage, treeFromImage } from './flatten.js';
export { cleanEntryPath } from './paths.js';
