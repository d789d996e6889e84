export { runCli, version } from './cli.js';
export type { GlobalOptions } from './context.js';
export { CancelledError, CommandError, UsageError } from './errors.js';
export {
  type BufferedIo,
  type BufferedIoOptions,
  bufferedIo,
  type CliInput,
  type CliIo,
  type CliOutput,
  nodeIo,
} from './io.js';
