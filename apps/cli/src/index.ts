export { runCli, version } from './cli.js';
export { bufferedIo, nodeIo, type BufferedIo, type BufferedIoOptions, type CliInput, type CliIo, type CliOutput } from './io.js';
export { CancelledError, CommandError, UsageError } from './errors.js';
export type { GlobalOptions } from './context.js';
