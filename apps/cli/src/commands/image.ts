import {
  copy,
  type Descriptor,
  formatPlatform,
  type ImageSource,
  isManifestMediaType,
  normalizePlatform,
  type Platform,
  parseImageConfig,
  parseManifest,
  parsePlatform,
  platformCompatible,
} from '@lade/manifest';
import {
  familiarName,
  familiarString,
  formatReference,
  type NormalizedReference,
  normalizeReference,
  withTag,
} from '@lade/reference';
import { registrySink, registrySource } from '@lade/registry-client';
import type { HistoryRow, ImageFilters, ImageRow, ImageStore, RemoveEvent } from '@lade/store';
import { addCommand, addGroup, type LadeCommand, parseBool, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { CancelledError, CommandError } from '../errors.js';
import { readLine } from '../io.js';
import { createdSince, displaySize, ellipsis, goTimeString, humanSize, renderFormat, truncateId } from '../output.js';
import { ProgressWriter } from '../progress.js';
import { dockerError, registryClient } from '../registry.js';
import { noSuchImage, openStore } from '../store.js';
import { mountingFrom, pullProgress, pushProgress } from '../transfer.js';

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

/**
 * `--platform` on an image that is not a list: its config must name a platform that runs as the one asked for,
 * checked before anything is downloaded (docker: `image with reference … was found but does not match …`).
 */
async function checkPlatform(
  ctx: CliContext,
  source: ImageSource,
  root: Descriptor,
  wanted: string,
  name: string,
): Promise<void> {
  if (!isManifestMediaType(root.mediaType)) return;
  const want = parsePlatform(wanted);
  const parsed = parseManifest(await source.fetchManifest(root, signal(ctx)), { contentType: root.mediaType });
  if (parsed.kind !== 'manifest') return;
  const configDescriptor = parsed.manifest.config;
  const stream = await source.openBlob(configDescriptor, signal(ctx));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  const c = parseImageConfig(bytes, {
    expected: { digest: configDescriptor.digest, size: configDescriptor.size },
  }).config;
  const have: Platform = { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) };
  if (!platformCompatible(want, have)) {
    throw new CommandError(
      'MANIFEST_UNKNOWN',
      `image with reference ${name} was found but does not match the specified platform: wanted ${formatPlatform(normalizePlatform(want))}, actual: ${formatPlatform(normalizePlatform(have))}`,
    );
  }
}

interface PullFlags {
  platform?: string;
  allTags?: boolean;
  quiet?: boolean;
}

async function pull(ctx: CliContext, args: string[], flags: PullFlags): Promise<void> {
  const input = args[0] ?? '';
  let ref = parseName(input);
  if (flags.allTags && (ref.tag !== undefined || ref.digest !== undefined))
    throw new CommandError('USAGE', "tag can't be used with --all-tags/-a");
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
        if (flags.platform !== undefined)
          await checkPlatform(ctx, source, resolved, flags.platform, familiarString(full));
        const progress = pullProgress(writer);
        const sink = store.sink(full, { repoDigest: resolved.digest });
        try {
          const result = await copy(source, sink, {
            ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
            ...signal(ctx),
            onProgress: progress,
          });
          if (before !== result.root.digest) changed = true;
        } finally {
          progress.dispose();
          await sink.close?.();
        }
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
  if (tags.length === 0)
    throw new CommandError('IMAGE_UNKNOWN', `An image does not exist locally with the tag: ${familiarName(ref)}`);
  const client = registryClient(ctx);
  try {
    await writer.message(`The push refers to repository [${repo}]`);
    for (const tag of tags) {
      const full = `${repo}:${tag}`;
      let root: Descriptor;
      const source = store.source(full);
      const target = registrySink(full, { client });
      // Layers of an image pulled from another repository of this registry are mounted from there, as docker does.
      const origin = await mountOrigin(store, full, ref);
      const registry = client.registry(ref.domain);
      const sink =
        origin === undefined
          ? target
          : mountingFrom(target, (d, o) =>
              registry.mountBlob(ref.path, d.digest, origin, o?.signal ? { signal: o.signal } : {}),
            );
      try {
        const result = await copy(source, sink, {
          all: true,
          ...signal(ctx),
          onProgress: pushProgress(writer, origin),
        });
        root = result.root;
      } catch (error) {
        await writer.flush();
        throw dockerError(error, 'push', input);
      } finally {
        await sink.close?.();
        await source.close?.();
      }
      await writer.message(`${tag}: digest: ${root.digest} size: ${root.size}`);
    }
    if (quiet) await ctx.out(flags.allTags ? repo : formatReference(ref));
  } finally {
    await client.close();
  }
}

/** A repository on the target's registry (not the target's) that the image was pulled from: its RepoDigests. */
async function mountOrigin(store: ImageStore, name: string, target: NormalizedReference): Promise<string | undefined> {
  let repoDigests: readonly string[];
  try {
    repoDigests = (await store.resolve(name)).repoDigests;
  } catch {
    return undefined;
  }
  for (const d of repoDigests) {
    try {
      const r = normalizeReference(d, { defaultTag: false });
      if (r.domain === target.domain && r.path !== target.path) return r.path;
    } catch {
      // not a reference: skip it
    }
  }
  return undefined;
}

// ---- tag, rmi, prune ----

async function tag(ctx: CliContext, args: string[]): Promise<void> {
  const [source = '', target = ''] = args;
  const store = await openStore(ctx);
  try {
    await store.tag(source, target);
  } catch (error) {
    throw noSuchImage(error, source);
  }
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
      const worded = noSuchImage(error, name);
      errors.push(worded instanceof Error ? worded.message : String(worded));
    }
  }
  if (errors.length > 0) throw new CommandError('RMI', errors.join('\nError: '));
}

const danglingWarning = 'WARNING! This will remove all dangling images.\nAre you sure you want to continue?';
const allWarning =
  'WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?';

/** docker's confirmation prompt: the question on stdout, one line read from stdin, `y`/`Y` to go on. */
async function confirm(ctx: CliContext, message: string): Promise<boolean> {
  await ctx.io.stdout.write(`${message} [y/N] `);
  const answer = (await readLine(ctx.io.stdin)) ?? '';
  return answer.trim().toLowerCase() === 'y';
}

async function prune(
  ctx: CliContext,
  _args: string[],
  flags: { all?: boolean; force?: boolean; filter?: string[] },
): Promise<void> {
  if (flags.filter && flags.filter.length > 0)
    throw new CommandError('UNSUPPORTED', 'image prune --filter is not supported by lade');
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

// ---- images ----

interface ImagesFlags {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  filter?: string[];
  format?: string;
  json?: boolean;
}

/** docker's `--filter key=value` list → the store's filters; unknown keys are refused as docker does. */
function imageFilters(values: readonly string[], extraReference: string | undefined): ImageFilters {
  const references: string[] = extraReference !== undefined ? [extraReference] : [];
  const labels: string[] = [];
  let dangling: boolean | undefined;
  let before: string | undefined;
  let since: string | undefined;
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new CommandError('FILTER_INVALID', `bad format of filter (expected name=value)`);
    const key = v.slice(0, eq).toLowerCase();
    const value = v.slice(eq + 1);
    switch (key) {
      case 'dangling':
        if (!['true', 'false', '1', '0'].includes(value.toLowerCase())) {
          throw new CommandError('FILTER_INVALID', `invalid filter 'dangling=${value}'`);
        }
        dangling = value.toLowerCase() === 'true' || value === '1';
        break;
      case 'before':
        before = value;
        break;
      case 'since':
        since = value;
        break;
      case 'reference':
        references.push(value);
        break;
      case 'label':
        labels.push(value);
        break;
      default:
        throw new CommandError('FILTER_INVALID', `invalid filter '${key}'`);
    }
  }
  return {
    ...(dangling !== undefined ? { dangling } : {}),
    ...(before !== undefined ? { before } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(references.length > 0 ? { reference: references } : {}),
    ...(labels.length > 0 ? { label: labels } : {}),
  };
}

const imageHeaders = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  ID: 'IMAGE ID',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

/** One `docker images` row as its formatter context sees it (every field a string, as docker renders them). */
function imageContext(row: ImageRow, trunc: boolean, now: number): Record<string, string> {
  return {
    Containers: 'N/A',
    CreatedAt: row.created ? goTimeString(row.created) : '',
    CreatedSince: row.created ? createdSince(row.created, now) : 'N/A',
    Digest: row.digest ?? '<none>',
    ID: trunc ? truncateId(row.imageId) : row.imageId,
    Repository: row.repository,
    SharedSize: 'N/A',
    Size: displaySize(row.size),
    Tag: row.tag,
    UniqueSize: 'N/A',
    VirtualSize: displaySize(row.size),
  };
}

async function images(ctx: CliContext, args: string[], flags: ImagesFlags): Promise<void> {
  const store = await openStore(ctx);
  const rows = await store.listImages({ all: flags.all === true, filters: imageFilters(flags.filter ?? [], args[0]) });
  if (flags.json) {
    await ctx.out(JSON.stringify(rows, null, 2));
    return;
  }
  const trunc = flags.trunc !== false;
  let format = flags.format ?? '';
  if (flags.quiet) format = '{{.ID}}';
  const defaultFormat = flags.digests
    ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  const now = Date.now();
  let contexts = rows.map((r) => imageContext(r, trunc, now));
  if (flags.quiet) contexts = contexts.filter((c, i) => contexts.findIndex((o) => o.ID === c.ID) === i);
  await ctx.io.stdout.write(
    renderFormat(format, contexts, { headers: imageHeaders, defaultFormat, contextRows: true }),
  );
}

// ---- history ----

interface HistoryFlags {
  trunc?: boolean;
  quiet?: boolean;
  format?: string;
  human?: boolean;
  json?: boolean;
}

async function history(ctx: CliContext, args: string[], flags: HistoryFlags): Promise<void> {
  const store = await openStore(ctx);
  let rows: HistoryRow[];
  try {
    rows = await store.history(args[0] ?? '');
  } catch (error) {
    throw noSuchImage(error, args[0] ?? '');
  }
  if (flags.json) {
    await ctx.out(JSON.stringify(rows, null, 2));
    return;
  }
  const trunc = flags.trunc !== false;
  const human = flags.human !== false;
  const now = Date.now();
  const contexts = rows.map((r) => {
    const createdBy = r.createdBy.replace(/\t/g, ' ');
    return {
      ID: r.id === '<missing>' ? r.id : trunc ? truncateId(r.id) : r.id,
      CreatedSince: r.created ? (human ? createdSince(r.created, now) : r.created) : 'N/A',
      CreatedAt: r.created ? (human ? goTimeString(r.created) : r.created) : 'N/A',
      CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
      Size: human ? displaySize(r.size) : String(r.size),
      Comment: r.comment,
    };
  });
  const format = flags.quiet ? '{{.ID}}' : (flags.format ?? '');
  const headers = {
    ID: 'IMAGE',
    CreatedSince: 'CREATED',
    CreatedAt: 'CREATED AT',
    CreatedBy: 'CREATED BY',
    Size: 'SIZE',
    Comment: 'COMMENT',
  };
  await ctx.io.stdout.write(
    renderFormat(format, contexts, {
      headers,
      defaultFormat: 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}',
      contextRows: true,
    }),
  );
}

// ---- inspect ----

async function inspect(ctx: CliContext, args: string[], flags: { format?: string }): Promise<void> {
  const store = await openStore(ctx);
  const found: unknown[] = [];
  const errors: string[] = [];
  for (const name of args) {
    try {
      found.push(await store.inspect(name));
    } catch (error) {
      if (
        !(
          error instanceof Error &&
          'code' in error &&
          (error.code === 'IMAGE_UNKNOWN' || error.code === 'NAME_INVALID')
        )
      )
        throw error;
      errors.push(error.code === 'IMAGE_UNKNOWN' ? error.message : `No such image: ${name}`);
    }
  }
  // docker: no format, `json` or an empty one print the JSON array.
  if (flags.format !== undefined && flags.format !== '' && flags.format !== 'json') {
    await ctx.io.stdout.write(renderFormat(flags.format, found, { missingFields: 'no-value' }));
  } else {
    await ctx.out(JSON.stringify(found, null, 4));
  }
  if (errors.length > 0) throw new CommandError('IMAGE_UNKNOWN', errors.join('\nError: '));
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
        .option('--disable-content-trust [bool]', 'Skip image verification', parseBool('disable-content-trust'), true)
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
      c
        .option('-a, --all-tags', 'Push all tags of an image to the repository')
        .option('--disable-content-trust [bool]', 'Skip image signing', parseBool('disable-content-trust'), true)
        .option('-q, --quiet', 'Suppress verbose output'),
    run: push,
  } as const;
}

const tagSpec = {
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  args: { exact: 2 },
  run: tag,
} as const;

const rmiSpec = {
  usage: 'IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  args: { min: 1 },
  flags: (c: import('commander').Command) =>
    c.option('-f, --force', 'Force removal of the image').option('--no-prune', 'Do not delete untagged parents'),
  run: rmi,
} as const;

const inspectSpec = {
  usage: 'IMAGE [IMAGE...]',
  description: 'Display detailed information on one or more images',
  args: { min: 1 },
  flags: (c: import('commander').Command) => c.option('-f, --format <string>', 'Format output using a custom template'),
  run: inspect,
} as const;

const inspectAnySpec = {
  usage: 'NAME|ID [NAME|ID...]',
  description: 'Display detailed information on one or more images',
  args: { min: 1 },
  flags: (c: import('commander').Command) => c.option('-f, --format <string>', 'Format output using a custom template'),
  run: inspect,
} as const;

function imagesSpec() {
  return {
    usage: '[REPOSITORY[:TAG]]',
    description: 'List images',
    args: { min: 0, max: 1 },
    flags: (c: import('commander').Command) =>
      c
        .option('-a, --all', 'Show all images (default hides intermediate images)')
        .option('--digests', 'Show digests')
        .option(
          '-f, --filter <filter>',
          'Filter output based on conditions provided',
          (v: string, p: string[] | undefined) => [...(p ?? []), v],
        )
        .option(
          '--format <string>',
          "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
        )
        .option('--no-trunc', "Don't truncate output")
        .option('-q, --quiet', 'Only show image IDs')
        .option('--json', 'Print the rows as a JSON array (lade)'),
    run: images,
  } as const;
}

const historySpec = {
  usage: 'IMAGE',
  description: 'Show the history of an image',
  args: { exact: 1 },
  flags: (c: import('commander').Command) =>
    c
      .option(
        '--format <string>',
        "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
      )
      .option('-H, --human [bool]', 'Print sizes and dates in human readable format', parseBool('human'), true)
      .option('--no-trunc', "Don't truncate output")
      .option('-q, --quiet', 'Only show image IDs')
      .option('--json', 'Print the rows as a JSON array (lade)'),
  run: history,
} as const;

/** The image commands: top-level (`pull`, `images`, `rmi`, …) and under `lade image`. */
export function registerImageCommands(program: LadeCommand, runtime: Runtime): LadeCommand {
  const image = addGroup(program, 'image', 'Manage images');
  const pullCommand = pullSpec();
  const pushCommand = pushSpec();
  const imagesCommand = imagesSpec();
  addCommand(image, 'pull', pullCommand, runtime);
  addCommand(program, 'pull', pullCommand, runtime);
  addCommand(image, 'push', pushCommand, runtime);
  addCommand(program, 'push', pushCommand, runtime);
  addCommand(program, 'tag', tagSpec, runtime);
  addCommand(image, 'tag', tagSpec, runtime);
  addCommand(program, 'rmi', rmiSpec, runtime);
  addCommand(program, 'inspect', inspectAnySpec, runtime);
  addCommand(image, 'ls', imagesCommand, runtime, ['list']);
  addCommand(program, 'images', imagesCommand, runtime);
  addCommand(program, 'history', historySpec, runtime);
  addCommand(image, 'history', historySpec, runtime);
  addCommand(image, 'inspect', inspectSpec, runtime);
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
          .option(
            '--filter <filter>',
            'Provide filter values (e.g. "until=<timestamp>")',
            (v: string, p: string[] | undefined) => [...(p ?? []), v],
          ),
      run: prune,
    },
    runtime,
  );
  return image;
}
