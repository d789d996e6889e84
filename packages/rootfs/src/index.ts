export { type ApplyLayerOptions, type ApplyLayerResult, applyLayer, type RootfsWarning } from './apply.js';
export {
  type Change,
  type ChangeKind,
  type DiffLayerOptions,
  type DiffOptions,
  diffDirectory,
  diffLayer,
  formatChanges,
} from './diff.js';
export { LayerDigestError, LayerInvalidError, RootfsExistsError, UnpackRecordError } from './errors.js';
export { type FlattenOptions, flattenImage, treeFromImage } from './flatten.js';
export {
  type LoadedImage,
  type LoadImageOptions,
  loadImage,
  type UnpackImageOptions,
  type UnpackImageResult,
  unpackImage,
} from './image.js';
export { type OpenedLayer, type OpenLayerOptions, openLayer } from './layer-stream.js';
export { cleanEntryPath } from './paths.js';
export {
  hashFile,
  readUnpackRecord,
  type ScanTreeOptions,
  scanTree,
  type TreeEntry,
  type TreeEntryType,
  type UnpackedImage,
  type UnpackRecord,
  writeUnpackRecord,
} from './record.js';
