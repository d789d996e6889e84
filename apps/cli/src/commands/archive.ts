import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { ArchiveFormat, SaveImage } from '@lade/archive';
import type { ImageSink } from '@lade/manifest';
import type { ImageStore } from '@lade/store';
import { addCommand, type LadeCommand, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { CommandError, UsageError } from '../errors.js';
import { humanSize } from '../output.js';
import { ProgressWriter } from '../progress.js';
import { noSuchImage, openStore } from '../store.js';
import { shortId } from '../transfer.js';

function signal(ctx: CliContext): { signal?: AbortSignal } {
  return ctx.io.signal ? { signal: ctx.io.signal } : {};
}

const formats: readonly ArchiveFormat[] = ['docker', 'docker-legacy', 'oci'];

async function save(ctx: CliContext, args: string[], flags: { output?: string; format?: string }): Promise<void> {
  const format = (flags.format ?? 'docker') as ArchiveFormat;
  if (!formats.includes(format))
    throw new UsageError(
      `invalid argument "${flags.format}" for "--format" flag: expected docker, docker-legacy or oci`,
      125,
    );
  if (flags.output === undefined && ctx.io.stdout.isTTY) {
    throw new CommandError('USAGE', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
  }
  const store = await openStore(ctx);
  // One archive entry per image: names given for the same image become its RepoTags together, as docker save does.
  const byId = new Map<string, string[]>();
  for (const arg of args) {
    let found: Awaited<ReturnType<typeof store.resolve>>;
    try {
      found = await store.resolve(arg);
    } catch (error) {
      throw noSuchImage(error, arg);
    }
    const names = byId.get(found.imageId) ?? [];
    // Named images keep their name in the archive; one given by ID or digest is saved unnamed, as docker does.
    if (found.matchedBy === 'tag' && found.name && !names.includes(found.name.familiar))
      names.push(found.name.familiar);
    byId.set(found.imageId, names);
  }
  const images: SaveImage[] = [...byId].map(([id, names]) => ({ source: store.source(id), names }));
  const out = ctx.io.stdout;
  const output =
    flags.output !== undefined
      ? resolve(flags.output)
      : new WritableStream<Uint8Array>({ write: (chunk) => out.write(chunk) });
  const { saveImages } = await import('@lade/archive');
  await saveImages(images, output, { format, ...signal(ctx) });
}

/** A sink into the store for an image the archive does not name: loaded under a throwaway tag that is then removed. */
function untaggedSink(store: ImageStore, created: string[]): ImageSink {
  const name = `lade-load-${randomBytes(6).toString('hex')}:untagged`;
  created.push(name);
  return store.sink(name);
}

async function load(ctx: CliContext, _args: string[], flags: { input?: string; quiet?: boolean }): Promise<void> {
  const { io } = ctx;
  if (flags.input === undefined && io.stdin.isTTY)
    throw new CommandError('USAGE', 'requested load from stdin, but stdin is empty');
  const store = await openStore(ctx);
  const writer = new ProgressWriter(flags.quiet ? { isTTY: false, write: async () => {} } : io.stdout, humanSize);
  const temporary: string[] = [];
  const input = flags.input !== undefined ? resolve(flags.input) : io.stdin.stream();
  let lines: readonly string[];
  const { loadArchive } = await import('@lade/archive');
  try {
    const result = await loadArchive(
      input,
      (name) => (name !== undefined ? store.sink(name) : untaggedSink(store, temporary)),
      {
        ...signal(ctx),
        onProgress: (e) => {
          if (!('role' in e) || e.role !== 'layer' || !io.stdout.isTTY) return;
          if (e.type === 'downloading')
            void writer.update(shortId(e.descriptor.digest), 'Loading layer', {
              current: e.transferred,
              total: e.total,
            });
          else if (e.type === 'complete')
            void writer.update(shortId(e.descriptor.digest), 'Loading layer', {
              current: e.descriptor.size,
              total: e.descriptor.size,
            });
        },
      },
    );
    lines = result.lines;
  } finally {
    for (const name of temporary) await store.untag(name).catch(() => undefined);
  }
  await writer.flush();
  if (io.stdout.isTTY && !flags.quiet) await io.stdout.write('');
  for (const line of lines) await ctx.out(line);
}

/** `save` and `load`, top-level and under `lade image`. */
export function registerArchiveCommands(program: LadeCommand, image: LadeCommand, runtime: Runtime): void {
  const saveSpec = {
    usage: 'IMAGE [IMAGE...]',
    description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
    args: { min: 1 },
    flags: (c: import('commander').Command) =>
      c
        .option('-o, --output <string>', 'Write to a file, instead of STDOUT')
        .option('--format <string>', 'Archive layout: docker (Docker 25+, default), docker-legacy or oci (lade)'),
    run: save,
  } as const;
  const loadSpec = {
    usage: '',
    description: 'Load an image from a tar archive or STDIN',
    args: { exact: 0 },
    flags: (c: import('commander').Command) =>
      c
        .option('-i, --input <string>', 'Read from tar archive file, instead of STDIN')
        .option('-q, --quiet', 'Suppress the load output'),
    run: load,
  } as const;
  addCommand(program, 'save', saveSpec, runtime);
  addCommand(image, 'save', saveSpec, runtime);
  addCommand(program, 'load', loadSpec, runtime);
  addCommand(image, 'load', loadSpec, runtime);
}
