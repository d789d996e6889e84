export { isLadeError as isLadeErrorLike } from '@lade/digest';
export * from '../src/index.js';
