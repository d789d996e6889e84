import { isLadeError } from '@lade/digest';
import { CommanderError } from 'commander';
import { BIN, collect, dockerHelp, LadeCommand, type Runtime } from './command.js';
import { registerCommands } from './commands/index.js';
import { CancelledError, UsageError } from './errors.js';
import { type CliIo, nodeIo } from './io.js';
import { version } from './version.js';

export { version };

function buildProgram(runtime: Runtime, pending: Promise<void>[]): LadeCommand {
  const { io } = runtime;
  const program = new LadeCommand(BIN);
  program
    .description("Docker's image commands without a daemon: pull, push, images, tag, inspect, save, load, copy")
    .enablePositionalOptions()
    .option('--root <dir>', 'Local image store (default $LADE_HOME or ~/.local/share/lade)')
    .option('--config <dir>', 'Location of client config files (default $DOCKER_CONFIG or ~/.docker)')
    .option(
      '--insecure-registry <host>',
      'Registry to reach over plain HTTP or unverified TLS (repeatable; also $LADE_INSECURE_REGISTRY)',
      collect,
    )
    .option('-D, --debug', 'Enable debug mode')
    .version(`${BIN} version ${version}`, '-v, --version', 'Print version information and quit')
    .helpCommand(false)
    .argument('[command]')
    .action(async (command: string | undefined) => {
      if (command !== undefined) {
        throw new UsageError(`${BIN}: unknown command: ${BIN} ${command}\n\nRun '${BIN} --help' for more information`);
      }
      program.outputHelp();
    });
  registerCommands(program, runtime);
  const configure = (cmd: LadeCommand) => {
    cmd.exitOverride();
    cmd.configureOutput({
      writeOut: (s) => void pending.push(io.stdout.write(s)),
      writeErr: (s) => void pending.push(io.stderr.write(s)),
      outputError: () => {},
    });
    cmd.showSuggestionAfterError(false);
    cmd.helpOption('-h, --help', 'Print usage');
    cmd.configureHelp({ formatHelp: (c) => dockerHelp(c as LadeCommand) });
    for (const sub of cmd.commands) configure(sub as LadeCommand);
  };
  configure(program);
  return program;
}

/**
 * Runs the lade command line `argv` (without the node and script names) against `io` and
 * resolves to the exit code; it never calls `process.exit`, so tests run it in-process.
 * @example
 * const code = await runCli(['images', '--format', '{{.Repository}}'], nodeIo());
 */
export async function runCli(argv: readonly string[], io: CliIo = nodeIo()): Promise<number> {
  const pending: Promise<void>[] = [];
  const debug = argv.includes('--debug') || argv.includes('-D') || io.env.LADE_DEBUG === '1';
  let code = 0;
  try {
    await buildProgram({ io }, pending).parseAsync([...argv], { from: 'user' });
  } catch (error) {
    code = await report(error, io, debug);
  }
  await Promise.all(pending);
  return code;
}

async function report(error: unknown, io: CliIo, debug: boolean): Promise<number> {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    if (error.code === 'commander.help') return 0;
    await io.stderr.write(`${error.message.replace(/^error: /, '')}\n`);
    return error.exitCode === 0 ? 0 : 125;
  }
  if (error instanceof CancelledError) return 0;
  // Interrupted (Ctrl-C, SIGTERM): transfers were cancelled and cleaned up; the shell's convention is 128 + SIGINT.
  if (io.signal?.aborted) return 130;
  if (error instanceof UsageError) {
    await io.stderr.write(`${error.message}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  await io.stderr.write(`Error: ${message}\n`);
  if (debug && error instanceof Error) {
    const code = isLadeError(error) ? ` (${error.code})` : '';
    await io.stderr.write(`${error.stack ?? ''}${code}\n`);
    for (let cause = error.cause; cause instanceof Error; cause = cause.cause) {
      await io.stderr.write(`caused by: ${cause.stack ?? cause.message}\n`);
    }
  }
  return 1;
}
