import { copy, type Descriptor } from '@lade/manifest';
import { familiarName, familiarString, formatReference, normalizeReference, withTag, type NormalizedReference } from '@lade/reference';
import { registrySink, registrySource } from '@lade/registry-client';
import type { ImageStore, RemoveEvent } from '@lade/store';
import { addCommand, addGroup, type LadeCommand, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { CancelledError, CommandError } from '../errors.js';
import { humanSize } from '../format/human.js';
import { readLine } from '../io.js';
import { ProgressWriter } from '../progress.js';
import { dockerError, registryClient } from '../registry.js';
import { openStore } from '../store.js';
import { pullProgress, pushProgress } from '../transfer.js';

function signal(ctx: CliContext): { signal?: AbortSignal } {
  return ctx.io.signal ? { signal: ctx.io.signal } : {};
}

function parseName(input: string): NormalizedReference {
  try {
    return normalizeReference(input, { defaultTag: false });
  } catch (error) {
    throw new CommandError('NAME_INVALID', error instanceof Error ? error.message : String(error), { cause: error });
  }
}

async function currentRoot(store: ImageStore, name: string): Promise<string | undefined> {
  try {
    return (await store.resolve(name)).root.digest;
  } catch {
    return undefined;
  }
}

// ---- pull ----

interface PullFlags {
  platform?: string;
  allTags?: boolean;
  quiet?: boolean;
}

async function pull(ctx: CliContext, args: string[], flags: PullFlags): Promise<void> {
  const input = args[0] ?? '';
  let ref = parseName(input);
  if (flags.allTags && (ref.tag !== undefined || ref.digest !== undefined)) throw new CommandError('USAGE', "tag can't be used with --all-tags/-a");
  const quiet = flags.quiet === true;
  const writer = new ProgressWriter(quiet ? { isTTY: false, write: async () => {} } : ctx.io.stdout, humanSize);
  if (!flags.allTags && ref.tag === undefined && ref.digest === undefined) {
    if (!quiet) await ctx.out('Using default tag: latest');
    ref = withTag(ref, 'latest');
  }
  const store = await openStore(ctx);
  const client = registryClient(ctx);
  try {
    const repo = formatReference({ domain: ref.domain, path: ref.path });
    let references: string[];
    if (flags.allTags) {
      try {
        references = await client.registry(ref.domain).listTags(ref.path, signal(ctx));
      } catch (error) {
        throw dockerError(error, 'pull', input);
      }
    } else {
      references = [ref.digest ?? ref.tag ?? 'latest'];
    }
    let changed = false;
    for (const reference of references) {
      const full = reference.includes(':') ? `${repo}@${reference}` : `${repo}:${reference}`;
      await writer.message(`${reference}: Pulling from ${ref.path}`);
      const source = registrySource(full, { client });
      const before = await currentRoot(store, full);
      let resolved: Descriptor;
      try {
        resolved = await source.resolve(signal(ctx));
        const result = await copy(source, store.sink(full, { repoDigest: resolved.digest }), {
          ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
          ...signal(ctx),
          onProgress: pullProgress(writer),
        });
        if (before !== result.root.digest) changed = true;
      } catch (error) {
        await writer.flush();
        throw dockerError(error, 'pull', input);
      }
      await writer.message(`Digest: ${resolved.digest}`);
    }
    const shown = flags.allTags ? familiarName(ref) : familiarString(ref);
    await writer.message(`Status: ${changed ? 'Downloaded newer image' : 'Image is up to date'} for ${shown}`);
    await ctx.out(flags.allTags ? repo : formatReference(ref));
  } finally {
    await client.close();
  }
}

// ---- push ----

interface PushFlags {
  allTags?: boolean;
  quiet?: boolean;
}

async function push(ctx: CliContext, args: string[], flags: PushFlags): Promise<void> {
  const input = args[0] ?? '';
  let ref = parseName(input);
  if (ref.digest !== undefined) throw new CommandError('USAGE', `cannot push a digest reference: ${input}`);
  if (flags.allTags && ref.tag !== undefined) throw new CommandError('USAGE', "tag can't be used with --all-tags/-a");
  const quiet = flags.quiet === true;
  const writer = new ProgressWriter(quiet ? { isTTY: false, write: async () => {} } : ctx.io.stdout, humanSize);
  if (!flags.allTags && ref.tag === undefined) {
    if (!quiet) await ctx.out('Using default tag: latest');
    ref = withTag(ref, 'latest');
  }
  const repo = formatReference({ domain: ref.domain, path: ref.path });
  const store = await openStore(ctx);
  let tags: string[];
  if (flags.allTags) {
    const rows = await store.listImages({ filters: { reference: familiarName(ref) } });
    tags = [...new Set(rows.filter((r) => r.tag !== '<none>').map((r) => r.tag))].sort();
  } else {
    tags = (await currentRoot(store, formatReference(ref))) === undefined ? [] : [ref.tag ?? 'latest'];
  }
  if (tags.length === 0) throw new CommandError('IMAGE_UNKNOWN', `An image does not exist locally with the tag: ${familiarName(ref)}`);
  const client = registryClient(ctx);
  try {
    await writer.message(`The push refers to repository [${repo}]`);
    for (const tag of tags) {
      const full = `${repo}:${tag}`;
      let root: Descriptor;
      try {
        const result = await copy(store.source(full), registrySink(full, { client }), { all: true, ...signal(ctx), onProgress: pushProgress(writer, undefined) });
        root = result.root;
      } catch (error) {
        await writer.flush();
        throw dockerError(error, 'push', input);
      }
      await writer.message(`${tag}: digest: ${root.digest} size: ${root.size}`);
    }
    if (quiet) await ctx.out(flags.allTags ? repo : formatReference(ref));
  } finally {
    await client.close();
  }
}

// ---- tag, rmi, prune ----

async function tag(ctx: CliContext, args: string[]): Promise<void> {
  const [source = '', target = ''] = args;
  const store = await openStore(ctx);
  await store.tag(source, target);
}

async function printRemoveEvents(ctx: CliContext, events: readonly RemoveEvent[], lower = false): Promise<void> {
  for (const e of events) {
    if ('Untagged' in e) await ctx.out(`${lower ? 'untagged' : 'Untagged'}: ${e.Untagged}`);
    else await ctx.out(`${lower ? 'deleted' : 'Deleted'}: ${e.Deleted}`);
  }
}

async function rmi(ctx: CliContext, args: string[], flags: { force?: boolean }): Promise<void> {
  const store = await openStore(ctx);
  const errors: string[] = [];
  for (const name of args) {
    try {
      await printRemoveEvents(ctx, await store.remove(name, { force: flags.force === true }));
    } catch (error) {
      if (flags.force && error instanceof Error && 'code' in error && error.code === 'IMAGE_UNKNOWN') continue;
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (errors.length > 0) throw new CommandError('RMI', errors.join('\n'));
}

const danglingWarning = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
const allWarning = 'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?';

/** docker's confirmation prompt: the question on stdout, one line read from stdin, `y`/`Y` to go on. */
async function confirm(ctx: CliContext, message: string): Promise<boolean> {
  await ctx.io.stdout.write(`${message} [y/N] `);
  const answer = (await readLine(ctx.io.stdin)) ?? '';
  return answer.trim().toLowerCase() === 'y';
}

async function prune(ctx: CliContext, _args: string[], flags: { all?: boolean; force?: boolean; filter?: string[] }): Promise<void> {
  if (flags.filter && flags.filter.length > 0) throw new CommandError('UNSUPPORTED', 'image prune --filter is not supported by lade');
  if (!flags.force && !(await confirm(ctx, flags.all ? allWarning : danglingWarning))) {
    throw new CancelledError('image prune has been cancelled');
  }
  const store = await openStore(ctx);
  const result = await store.prune({ all: flags.all === true });
  if (result.deleted.length > 0) {
    await ctx.out('Deleted Images:');
    await printRemoveEvents(ctx, result.deleted, true);
    await ctx.out('');
  }
  await ctx.out(`Total reclaimed space: ${humanSize(result.reclaimedBytes)}`);
}

// ---- registration ----

function pullSpec() {
  return {
    usage: 'NAME[:TAG|@DIGEST]',
    description: 'Download an image from a registry',
    args: { exact: 1 },
    flags: (c: import('commander').Command) =>
      c
        .option('-a, --all-tags', 'Download all tagged images in the repository')
        .option('--platform <string>', 'Set platform if server is multi-platform capable')
        .option('-q, --quiet', 'Suppress verbose output'),
    run: pull,
  } as const;
}

function pushSpec() {
  return {
    usage: 'NAME[:TAG]',
    description: 'Upload an image to a registry',
    args: { exact: 1 },
    flags: (c: import('commander').Command) =>
      c.option('-a, --all-tags', 'Push all tags of an image to the repository').option('-q, --quiet', 'Suppress verbose output'),
    run: push,
  } as const;
}

const tagSpec = { usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', args: { exact: 2 }, run: tag } as const;

const rmiSpec = {
  usage: 'IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  args: { min: 1 },
  flags: (c: import('commander').Command) => c.option('-f, --force', 'Force removal of the image').option('--no-prune', 'Do not delete untagged parents'),
  run: rmi,
} as const;

/** The image commands: top-level (`pull`, `images`, `rmi`, …) and under `lade image`. */
export function registerImageCommands(program: LadeCommand, runtime: Runtime): LadeCommand {
  const image = addGroup(program, 'image', 'Manage images');
  addCommand(program, 'pull', pullSpec(), runtime);
  addCommand(image, 'pull', pullSpec(), runtime);
  addCommand(program, 'push', pushSpec(), runtime);
  addCommand(image, 'push', pushSpec(), runtime);
  addCommand(program, 'tag', tagSpec, runtime);
  addCommand(image, 'tag', tagSpec, runtime);
  addCommand(program, 'rmi', rmiSpec, runtime);
  addCommand(image, 'rm', rmiSpec, runtime, ['remove']);
  addCommand(
    image,
    'prune',
    {
      usage: '',
      description: 'Remove unused images',
      args: { exact: 0 },
      flags: (c) =>
        c
          .option('-a, --all', 'Remove all unused images, not just dangling ones')
          .option('-f, --force', 'Do not prompt for confirmation')
          .option('--filter <filter>', 'Provide filter values (e.g. "until=<timestamp>")', (v: string, p: string[] | undefined) => [...(p ?? []), v]),
      run: prune,
    },
    runtime,
  );
  return image;
}
