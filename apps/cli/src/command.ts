import { Command, type Option } from 'commander';
import { type CliContext, createContext, type RawGlobalFlags, resolveGlobalOptions } from './context.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

/** The binary's name, as docker's messages say `docker`. */
export const BIN = 'lade';

/**
 * A commander `Command` that words parse errors and help as docker's cobra/pflag do
 * (`unknown flag: --x` + usage, exit 125; `lade: unknown command: lade x`, exit 1).
 */
export class LadeCommand extends Command {
  /** The arguments part of docker's use line, e.g. `NAME[:TAG|@DIGEST]`. */
  usageArgs = '';
  /** docker writes `[OPTIONS]` in most use lines of commands with flags; a few (manifest create) leave it out. */
  bareUsage = false;
  /** The spec this command was registered from (shared by its aliases). */
  spec: object | undefined;

  override createCommand(name?: string): LadeCommand {
    return new LadeCommand(name);
  }

  /** `lade image ls` */
  commandPath(): string {
    const names: string[] = [];
    for (let c: Command | null = this; c; c = c.parent) names.unshift(c.name());
    return names.join(' ');
  }

  /** True for a command group (`lade image`, `lade system`). */
  isGroup(): boolean {
    return this.commands.length > 0 && this.parent !== null;
  }

  /** docker's use line: `lade pull [OPTIONS] NAME[:TAG|@DIGEST]`, `lade tag SOURCE TARGET`, `lade image` for a group. */
  useLine(): string {
    if (!this.parent) return `${BIN} [OPTIONS] COMMAND [ARG...]`;
    if (this.isGroup()) return this.commandPath();
    const options = this.options.length > 0 && !this.bareUsage ? ' [OPTIONS]' : '';
    return `${this.commandPath()}${options}${this.usageArgs ? ` ${this.usageArgs}` : ''}`;
  }

  private flagError(message: string): never {
    throw new UsageError(
      `${message}\n\nUsage:  ${this.useLine()}\n\nRun '${this.commandPath()} --help' for more information`,
      125,
    );
  }

  // commander's hooks for parse errors (called from its parser).
  unknownOption(flag: string): never {
    if (flag.startsWith('--')) this.flagError(`unknown flag: ${flag.split('=')[0]}`);
    this.flagError(`unknown shorthand flag: '${flag.slice(1, 2)}' in ${flag}`);
  }

  optionMissingArgument(option: Option): never {
    this.flagError(`flag needs an argument: ${option.long ?? option.short ?? option.flags}`);
  }

  unknownCommand(): never {
    const name = this.args[0] ?? '';
    if (!this.parent)
      throw new UsageError(`${BIN}: unknown command: ${BIN} ${name}\n\nRun '${BIN} --help' for more information`);
    throw new UsageError(
      `${BIN}: unknown command: ${this.commandPath()} ${name}\n\nUsage:  ${this.useLine()}\n\nRun '${this.commandPath()} --help' for more information`,
    );
  }
}

/** pflag's flag column: `  -a, --all-tags`, `      --platform string`, `  -f, --filter filter`, `      --limit int`. */
function flagColumn(option: Option): string {
  let type = '';
  if (option.required) {
    const name = /<([^>]+)>/.exec(option.flags)?.[1] ?? 'string';
    type = ` ${['int', 'filter', 'list'].includes(name) ? name : 'string'}`;
  }
  const long = option.long ?? '';
  return option.short ? `  ${option.short}, ${long}${type}` : `      ${long}${type}`;
}

/** pflag's usage text: the description and, for a non-zero default, ` (default X)`. */
function flagUsage(option: Option): string {
  const d: unknown = option.defaultValue;
  const shown =
    d === undefined || d === false || d === '' || (Array.isArray(d) && d.length === 0) ? '' : ` (default ${String(d)})`;
  return `${option.description}${shown}`;
}

/** pflag's `wrapN`: the first line of `s` within `i` columns (allowing `slop` more to avoid an orphan) and the rest. */
function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/** pflag's `wrap`: usage text wrapped to `width` columns, continuation lines indented to `indent`. */
function wrapUsage(indent: number, width: number, text: string): string {
  const pad = ' '.repeat(indent);
  let room = width - indent;
  if (room < 24) return text.replaceAll('\n', `\n${pad}`);
  const slop = 5;
  room -= slop;
  let [line, rest] = wrapN(room, slop, text);
  let out = line.replaceAll('\n', `\n${pad}`);
  while (rest !== '') {
    [line, rest] = wrapN(room, slop, rest);
    out += `\n${pad}${line.replaceAll('\n', `\n${pad}`)}`;
  }
  return out;
}

/** docker's help text: usage line, description, commands or options, as cobra prints them. */
export function dockerHelp(cmd: LadeCommand): string {
  const lines: string[] = [];
  const path = cmd.commandPath();
  const groupish = cmd.commands.length > 0;
  lines.push(`Usage:  ${groupish ? (cmd.parent ? `${path} COMMAND` : `${BIN} [OPTIONS] COMMAND`) : cmd.useLine()}`, '');
  if (cmd.description()) lines.push(cmd.description(), '');
  const aliases = groupish ? [] : aliasesOf(cmd);
  if (aliases.length > 1) lines.push('Aliases:', `  ${aliases.join(', ')}`, '');
  const subs = (cmd.commands as LadeCommand[]).filter((c) => !(c as unknown as { _hidden?: boolean })._hidden);
  const printCommands = (title: string, list: LadeCommand[]) => {
    if (list.length === 0) return;
    // cobra: names padded to the longest (at least 11), then one space.
    const width = Math.max(11, ...list.map((c) => c.name().length));
    lines.push(`${title}:`);
    for (const c of [...list].sort((a, b) => a.name().localeCompare(b.name()))) {
      lines.push(`  ${c.name().padEnd(width)} ${c.summary() || c.description()}`);
    }
    lines.push('');
  };
  if (groupish && !cmd.parent) {
    printCommands(
      'Management Commands',
      subs.filter((c) => c.commands.length > 0),
    );
    printCommands(
      'Commands',
      subs.filter((c) => c.commands.length === 0),
    );
  } else if (groupish) {
    printCommands('Commands', subs);
  }
  const options = cmd.options
    .filter((o) => !o.hidden)
    .sort((a, b) => (a.long ?? a.short ?? '').localeCompare(b.long ?? b.short ?? ''));
  if (options.length > 0) {
    const cols = options.map(flagColumn);
    const width = Math.max(...cols.map((c) => c.length)) + 3;
    lines.push(cmd.parent ? 'Options:' : 'Global Options:');
    // docker wraps flag usages at the terminal width minus one, 80 columns when it has none; pflag sorts by name.
    options.forEach((o, i) => {
      lines.push(`${(cols[i] ?? '').padEnd(width)}${wrapUsage(width, 79, flagUsage(o))}`);
    });
    lines.push('');
  }
  if (groupish) lines.push(`Run '${path} COMMAND --help' for more information on a command.`, '');
  return lines.join('\n');
}

/** How many positional arguments a command takes. */
export type ArgCount = { readonly exact: number } | { readonly min: number; readonly max?: number };

/** One command: its usage, flags and what it runs. Registered under one or more names (`images`, `image ls`). */
export interface CommandSpec<O = Record<string, unknown>> {
  readonly usage: string;
  readonly description: string;
  readonly args: ArgCount;
  /** The one-line description in command lists, when `description` (shown in the command's own help) is longer. */
  readonly summary?: string;
  /** Leave `[OPTIONS]` out of the use line even though the command has flags (as docker's `manifest create`). */
  readonly bareUsage?: boolean;
  /** Declares the command's flags on a fresh commander command. */
  readonly flags?: (cmd: Command) => void;
  readonly run: (ctx: CliContext, args: string[], opts: O) => Promise<void>;
}

function checkArgs(cmd: LadeCommand, count: ArgCount, args: readonly string[]): void {
  const path = cmd.commandPath();
  const tail = `\n\nUsage:  ${cmd.useLine()}\n\nRun '${path} --help' for more information`;
  const plural = (n: number) => (n === 1 ? 'argument' : 'arguments');
  if ('exact' in count) {
    if (args.length !== count.exact) {
      if (count.exact === 0) throw new UsageError(`${BIN}: '${path}' accepts no arguments${tail}`);
      throw new UsageError(`${BIN}: '${path}' requires ${count.exact} ${plural(count.exact)}${tail}`);
    }
    return;
  }
  const { min, max } = count;
  if (max !== undefined && min > 0 && (args.length < min || args.length > max) && min !== max) {
    throw new UsageError(`${BIN}: '${path}' requires at least ${min} and at most ${max} ${plural(max)}${tail}`);
  }
  if (args.length < min) {
    throw new UsageError(
      `${BIN}: '${path}' requires at least ${min} ${plural(min)}\n\nUsage:  ${cmd.useLine()}\n\nSee '${path} --help' for more information`,
    );
  }
  if (max !== undefined && args.length > max) {
    throw new UsageError(`${BIN}: '${path}' requires at most ${max} ${plural(max)}${tail}`);
  }
}

/** `lade image ls, lade image list, lade images`: every name of the command, management paths first. */
export function aliasesOf(cmd: LadeCommand): string[] {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  // Every command of this program registered from the same spec (`image ls` and `images`).
  const same: LadeCommand[] = [];
  const walk = (c: Command) => {
    if (cmd.spec !== undefined && (c as LadeCommand).spec === cmd.spec) same.push(c as LadeCommand);
    for (const sub of c.commands) walk(sub);
  };
  walk(root);
  if (same.length === 0) same.push(cmd);
  const paths = same.flatMap((c) => {
    const parent = c.parent ? (c.parent as LadeCommand).commandPath() : '';
    return [c.name(), ...c.aliases()].map((n) => `${parent} ${n}`.trim());
  });
  return paths.sort((a, b) => b.split(' ').length - a.split(' ').length);
}

/** Runtime pieces every command action needs. */
export interface Runtime {
  readonly io: CliIo;
}

/** Registers `spec` as `parent name`, with docker's argument checks and the global options resolved. */
export function addCommand<O>(
  parent: Command,
  name: string,
  spec: CommandSpec<O>,
  runtime: Runtime,
  aliases: string[] = [],
): LadeCommand {
  const cmd = (parent as LadeCommand).command(name) as LadeCommand;
  cmd.usageArgs = spec.usage;
  cmd.bareUsage = spec.bareUsage === true;
  cmd.spec = spec;
  cmd.description(spec.description);
  if (spec.summary !== undefined) cmd.summary(spec.summary);
  for (const a of aliases) cmd.alias(a);
  cmd.argument('[args...]');
  cmd.allowExcessArguments(true);
  spec.flags?.(cmd);
  cmd.action(async (args: string[], _opts: unknown, self: Command) => {
    checkArgs(cmd, spec.args, args);
    const globals = self.optsWithGlobals<RawGlobalFlags & O>();
    const ctx = createContext(runtime.io, resolveGlobalOptions(globals, runtime.io.env));
    await spec.run(ctx, args, self.opts() as O);
  });
  return cmd;
}

/** A command group (`lade image`, `lade system`): prints its help when run alone. */
export function addGroup(parent: Command, name: string, description: string): LadeCommand {
  const group = (parent as LadeCommand).command(name) as LadeCommand;
  group.description(description);
  group.helpCommand(false);
  // docker prints a group's help on stdout and exits 0; an unknown subcommand is an error.
  group.argument('[command]');
  group.action((command: string | undefined) => {
    if (command !== undefined) group.unknownCommand();
    group.outputHelp();
  });
  return group;
}

/** Collects a repeatable string flag (`--filter a --filter b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Parses a boolean flag value docker-style (`--tls-verify`, `--tls-verify=false`). */
export function parseBool(flag: string): (value: string | boolean) => boolean {
  return (value) => {
    if (value === true || value === '') return true;
    const v = String(value).toLowerCase();
    if (['1', 't', 'true'].includes(v)) return true;
    if (['0', 'f', 'false'].includes(v)) return false;
    throw new UsageError(
      `invalid argument "${String(value)}" for "--${flag}" flag: strconv.ParseBool: parsing "${String(value)}": invalid syntax`,
      125,
    );
  };
}

/** Parses an integer flag value. */
export function parseIntFlag(flag: string): (value: string) => number {
  return (value) => {
    if (!/^-?\d+$/.test(value)) {
      throw new UsageError(
        `invalid argument "${value}" for "--${flag}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`,
        125,
      );
    }
    return Number.parseInt(value, 10);
  };
}
