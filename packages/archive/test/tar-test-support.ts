export * from '../src/index.js';
export { isLadeError as isLadeErrorLike } from '@lade/digest';
