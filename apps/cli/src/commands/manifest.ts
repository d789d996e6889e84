import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildIndex,
  copy,
  type Descriptor,
  formatPlatform,
  MediaType,
  normalizePlatform,
  type Platform,
  parseImageConfig,
  parseManifest,
} from '@lade/manifest';
import { formatReference, type NormalizedReference, normalizeReference } from '@lade/reference';
import { type RegistryClient, registrySink, registrySource } from '@lade/registry-client';
import { addCommand, addGroup, collect, type LadeCommand, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { CommandError, UsageError } from '../errors.js';
import { alignColumns, indentJson, renderFormat } from '../output.js';
import { dockerError, registryClient } from '../registry.js';

function signal(ctx: CliContext): { signal?: AbortSignal } {
  return ctx.io.signal ? { signal: ctx.io.signal } : {};
}

function parseName(input: string): NormalizedReference {
  try {
    return normalizeReference(input);
  } catch (error) {
    throw new CommandError('NAME_INVALID', error instanceof Error ? error.message : String(error), { cause: error });
  }
}

function clientFor(ctx: CliContext, ref: NormalizedReference, insecure: boolean | undefined): RegistryClient {
  if (!insecure) return registryClient(ctx);
  return registryClient({
    ...ctx,
    options: { ...ctx.options, insecureRegistries: [...ctx.options.insecureRegistries, ref.domain] },
  });
}

interface Fetched {
  readonly ref: NormalizedReference;
  readonly descriptor: Descriptor;
  readonly bytes: Uint8Array;
}

async function fetchRoot(
  ctx: CliContext,
  client: RegistryClient,
  ref: NormalizedReference,
  input: string,
): Promise<Fetched> {
  try {
    const { descriptor, bytes } = await client
      .registry(ref.domain)
      .getManifest(ref.path, ref.digest ?? ref.tag ?? 'latest', signal(ctx));
    return { ref, descriptor, bytes };
  } catch (error) {
    throw dockerError(error, 'inspect', input);
  }
}

/** docker manifest's wording of a manifest the registry does not have: `no such manifest: NAME:TAG`. */
function noSuchManifest(error: unknown, ref: NormalizedReference): unknown {
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  if (code !== 'MANIFEST_UNKNOWN' && code !== 'NAME_UNKNOWN') return error;
  return new CommandError('MANIFEST_UNKNOWN', `no such manifest: ${formatReference(ref)}`, { cause: error });
}

async function fetchConfig(
  ctx: CliContext,
  client: RegistryClient,
  ref: NormalizedReference,
  config: Descriptor,
): Promise<ReturnType<typeof parseImageConfig>> {
  const stream = await client.registry(ref.domain).openBlob(ref.path, config, { ...signal(ctx), verify: true });
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  return parseImageConfig(bytes, { expected: { digest: config.digest, size: config.size } });
}

// ---- manifest inspect ----

async function inspect(
  ctx: CliContext,
  args: string[],
  flags: { verbose?: boolean; insecure?: boolean },
): Promise<void> {
  if (args.length === 2) {
    const list = await readList(ctx, args[0] ?? '');
    const want = formatReference(parseName(args[1] ?? ''));
    const entry = list.manifests.find((m) => m.ref === want);
    if (!entry) throw new CommandError('MANIFEST_UNKNOWN', `No such manifest: ${want}`);
    await ctx.out(JSON.stringify(entry, null, '\t'));
    return;
  }
  const input = args[0] ?? '';
  const ref = parseName(input);
  const local = await readList(ctx, input).catch(() => undefined);
  if (local) {
    await ctx.out(
      flags.verbose
        ? JSON.stringify(local.manifests, null, '\t')
        : dockerListJson(
            localIndex(local).descriptor.mediaType,
            local.manifests.map((m) => m.descriptor),
          ),
    );
    return;
  }
  const client = clientFor(ctx, ref, flags.insecure);
  try {
    const root = await fetchRoot(ctx, client, ref, input).catch((error: unknown) => {
      throw noSuchManifest(error, ref);
    });
    const parsed = parseManifest(root.bytes, { contentType: root.descriptor.mediaType });
    if (!flags.verbose) {
      // docker: a manifest's own bytes indented with tabs; a list re-marshalled (distribution's manifestlist) with
      // three spaces.
      if (parsed.kind === 'manifest') await ctx.out(indentJson(new TextDecoder().decode(root.bytes), '\t'));
      else await ctx.out(dockerListJson(parsed.mediaType, parsed.index.manifests));
      return;
    }
    const describe = async (ref2: NormalizedReference, d: Descriptor, bytes: Uint8Array) => {
      const p = parseManifest(bytes, { contentType: d.mediaType });
      if (p.kind !== 'manifest')
        throw new CommandError('MANIFEST_INVALID', `${formatReference(ref2)}: nested manifest lists are not supported`);
      let platform = d.platform;
      if (!platform) {
        const c = (await fetchConfig(ctx, client, ref2, p.manifest.config)).config;
        platform = { architecture: c.architecture, os: c.os, ...(c.variant ? { variant: c.variant } : {}) };
      }
      const body =
        p.mediaType === MediaType.OCI_MANIFEST ? { OCIManifest: p.manifest } : { SchemaV2Manifest: p.manifest };
      return {
        Ref: formatReference(ref2),
        Descriptor: { mediaType: p.mediaType, digest: p.digest, size: p.size, platform },
        Raw: Buffer.from(bytes).toString('base64'),
        ...body,
      };
    };
    if (parsed.kind === 'manifest') {
      await ctx.out(JSON.stringify(await describe(ref, root.descriptor, root.bytes), null, '\t'));
      return;
    }
    const out = [];
    for (const child of parsed.index.manifests) {
      const childRef = normalizeReference(`${formatReference({ domain: ref.domain, path: ref.path })}@${child.digest}`);
      const fetched = await fetchRoot(ctx, client, childRef, input);
      // docker names each child `name:tag@digest`.
      const shown = normalizeReference(`${formatReference(ref).replace(/@.*$/, '')}@${child.digest}`);
      out.push(await describe(shown, child, fetched.bytes));
    }
    await ctx.out(JSON.stringify(out, null, '\t'));
  } finally {
    await client.close();
  }
}

/**
 * A manifest list as docker's client re-marshals it (distribution's `manifestlist`): schemaVersion, mediaType,
 * manifests of `{mediaType, size, digest, platform}` (urls/annotations dropped), three-space indent.
 */
function dockerListJson(mediaType: string, manifests: readonly Descriptor[]): string {
  const list = {
    schemaVersion: 2,
    mediaType,
    manifests: manifests.map((m) => {
      const p: Partial<Platform> = m.platform ?? {};
      return {
        mediaType: m.mediaType,
        size: m.size,
        digest: m.digest,
        ...(m.urls && m.urls.length > 0 ? { urls: m.urls } : {}),
        platform: {
          architecture: p.architecture ?? '',
          os: p.os ?? '',
          ...(p['os.version'] ? { 'os.version': p['os.version'] } : {}),
          ...(p['os.features'] && p['os.features'].length > 0 ? { 'os.features': p['os.features'] } : {}),
          ...(p.variant ? { variant: p.variant } : {}),
          ...(p.features && p.features.length > 0 ? { features: p.features } : {}),
        },
      };
    }),
  };
  return JSON.stringify(list, null, 3);
}

// ---- local manifest lists ----

interface ListEntry {
  /** The manifest's full reference, `domain/path:tag` or `…@digest`, as the user named it. */
  readonly ref: string;
  readonly descriptor: Descriptor & { readonly platform: Platform };
}

interface LocalList {
  readonly list: string;
  readonly manifests: ListEntry[];
}

function listDir(ctx: CliContext): string {
  return join(ctx.options.root, 'manifest-lists');
}

function listFile(ctx: CliContext, full: string): string {
  return join(listDir(ctx), `${full.replace(/[/:@]/g, '_')}.json`);
}

async function readList(ctx: CliContext, name: string): Promise<LocalList> {
  const full = formatReference(parseName(name));
  try {
    return JSON.parse(await readFile(listFile(ctx, full), 'utf8')) as LocalList;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CommandError('MANIFEST_UNKNOWN', `No such manifest: ${full}`);
    throw error;
  }
}

async function writeList(ctx: CliContext, list: LocalList): Promise<void> {
  await mkdir(listDir(ctx), { recursive: true });
  const path = listFile(ctx, list.list);
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(list, null, 2)}\n`);
  await rename(tmp, path);
}

function localIndex(list: LocalList) {
  const docker = list.manifests.every((m) => m.descriptor.mediaType === MediaType.DOCKER_MANIFEST);
  return buildIndex({
    mediaType: docker ? MediaType.DOCKER_MANIFEST_LIST : MediaType.OCI_INDEX,
    manifests: list.manifests.map((m) => m.descriptor),
  });
}

async function create(ctx: CliContext, args: string[], flags: { amend?: boolean; insecure?: boolean }): Promise<void> {
  const [listName = '', ...names] = args;
  const listRef = parseName(listName);
  if (listRef.digest !== undefined)
    throw new UsageError(`invalid manifest list name "${listName}": give a tag, not a digest`);
  const full = formatReference(listRef);
  const existing = await readList(ctx, listName).catch(() => undefined);
  if (existing && !flags.amend)
    throw new CommandError('CONFLICT', `refusing to amend an existing manifest list with no --amend flag`);
  const manifests: ListEntry[] = existing ? [...existing.manifests] : [];
  for (const name of names) {
    const ref = parseName(name);
    if (ref.domain !== listRef.domain) {
      throw new CommandError(
        'USAGE',
        `cannot use source images from a different registry than the target image: ${ref.domain} != ${listRef.domain}`,
      );
    }
    const client = clientFor(ctx, ref, flags.insecure);
    try {
      const root = await fetchRoot(ctx, client, ref, name).catch((error: unknown) => {
        throw noSuchManifest(error, ref);
      });
      const parsed = parseManifest(root.bytes, { contentType: root.descriptor.mediaType });
      if (parsed.kind === 'index') throw new CommandError('MANIFEST_INVALID', `${name} is a manifest list`);
      const c = (await fetchConfig(ctx, client, ref, parsed.manifest.config)).config;
      const platform: Platform = {
        architecture: c.architecture,
        os: c.os,
        ...(c.variant ? { variant: c.variant } : {}),
        ...(c['os.version'] ? { 'os.version': c['os.version'] } : {}),
      };
      const entry: ListEntry = {
        ref: formatReference(ref),
        descriptor: { mediaType: parsed.mediaType, digest: parsed.digest, size: parsed.size, platform },
      };
      const at = manifests.findIndex((m) => m.descriptor.digest === entry.descriptor.digest);
      if (at >= 0) manifests[at] = entry;
      else manifests.push(entry);
    } finally {
      await client.close();
    }
  }
  await writeList(ctx, { list: full, manifests });
  await ctx.out(`Created manifest list ${full}`);
}

interface AnnotateFlags {
  os?: string;
  arch?: string;
  variant?: string;
  osVersion?: string;
  osFeatures?: string[];
}

async function annotate(ctx: CliContext, args: string[], flags: AnnotateFlags): Promise<void> {
  const [listName = '', name = ''] = args;
  const list = await readList(ctx, listName);
  const ref = parseName(name);
  const wanted = formatReference(ref);
  const at = list.manifests.findIndex(
    (m) => m.ref === wanted || (ref.digest !== undefined && m.descriptor.digest === ref.digest),
  );
  const entry = list.manifests[at];
  if (!entry) throw new CommandError('MANIFEST_UNKNOWN', `manifest for image ${wanted} does not exist in ${list.list}`);
  const p = entry.descriptor.platform;
  const platform: Platform = {
    ...p,
    ...(flags.os !== undefined ? { os: flags.os } : {}),
    ...(flags.arch !== undefined ? { architecture: flags.arch } : {}),
    ...(flags.variant !== undefined ? { variant: flags.variant } : {}),
    ...(flags.osVersion !== undefined ? { 'os.version': flags.osVersion } : {}),
    ...(flags.osFeatures !== undefined ? { 'os.features': flags.osFeatures } : {}),
  };
  if (!platform.os || !platform.architecture)
    throw new UsageError('manifest entry for image has unsupported os/arch combination');
  list.manifests[at] = { ...entry, descriptor: { ...entry.descriptor, platform } };
  await writeList(ctx, list);
}

/** A list may name one image per platform: a client picking by platform could not choose between two. */
function refuseDuplicatePlatforms(list: LocalList): void {
  const seen = new Map<string, string>();
  for (const m of list.manifests) {
    const p = m.descriptor.platform;
    if (!p) continue;
    const key = `${formatPlatform(normalizePlatform(p))} ${p['os.version'] ?? ''}`.trim();
    const other = seen.get(key);
    if (other !== undefined) {
      throw new CommandError(
        'MANIFEST_INVALID',
        `manifest list ${list.list} has two images for platform ${key}: ${other} and ${m.ref}; annotate one with another platform or recreate the list`,
      );
    }
    seen.set(key, m.ref);
  }
}

async function pushList(
  ctx: CliContext,
  args: string[],
  flags: { purge?: boolean; insecure?: boolean },
): Promise<void> {
  const listName = args[0] ?? '';
  const list = await readList(ctx, listName);
  refuseDuplicatePlatforms(list);
  const target = parseName(list.list);
  const repo = formatReference({ domain: target.domain, path: target.path });
  const client = clientFor(ctx, target, flags.insecure);
  try {
    // Every manifest must be in the list's repository: copy those from other repositories (blobs mounted).
    for (const m of list.manifests) {
      const source = registrySource(`${m.ref.replace(/@sha256:[0-9a-f]{64}$/, '')}@${m.descriptor.digest}`, { client });
      try {
        await copy(source, registrySink(`${repo}@${m.descriptor.digest}`, { client }), signal(ctx));
      } catch (error) {
        throw dockerError(error, 'push', m.ref);
      }
    }
    const built = localIndex(list);
    let digest: string;
    try {
      digest = await client
        .registry(target.domain)
        .putManifest(target.path, target.tag ?? 'latest', built.bytes, built.descriptor.mediaType, signal(ctx));
    } catch (error) {
      throw dockerError(error, 'push', list.list);
    }
    await ctx.out(digest);
    if (flags.purge) await rm(listFile(ctx, list.list), { force: true });
  } finally {
    await client.close();
  }
}

async function removeLists(ctx: CliContext, args: string[]): Promise<void> {
  const missing: string[] = [];
  for (const name of args) {
    const full = formatReference(parseName(name));
    try {
      await rm(listFile(ctx, full));
    } catch {
      missing.push(`No such manifest: ${full}`);
    }
  }
  if (missing.length > 0) throw new CommandError('MANIFEST_UNKNOWN', missing.join('\nError: '));
}

// ---- buildx imagetools inspect ----

async function imagetoolsInspect(
  ctx: CliContext,
  args: string[],
  flags: { raw?: boolean; format?: string },
): Promise<void> {
  const input = args[0] ?? '';
  const ref = parseName(input);
  const client = registryClient(ctx);
  try {
    const root = await fetchRoot(ctx, client, ref, input);
    if (flags.raw) {
      await ctx.io.stdout.write(root.bytes);
      return;
    }
    const parsed = parseManifest(root.bytes, { contentType: root.descriptor.mediaType });
    const name = formatReference(ref);
    if (flags.format !== undefined) {
      const imageOf = async (d: ReturnType<typeof parseManifest>, r: NormalizedReference) =>
        d.kind === 'manifest' ? (await fetchConfig(ctx, client, r, d.manifest.config)).config : undefined;
      let image: unknown;
      if (parsed.kind === 'manifest') image = await imageOf(parsed, ref);
      else {
        const all: Record<string, unknown> = {};
        for (const child of parsed.index.manifests) {
          if (!child.platform) continue;
          const childRef = normalizeReference(
            `${formatReference({ domain: ref.domain, path: ref.path })}@${child.digest}`,
          );
          const fetched = await fetchRoot(ctx, client, childRef, input);
          all[formatPlatform(child.platform)] = await imageOf(
            parseManifest(fetched.bytes, { contentType: child.mediaType }),
            childRef,
          );
        }
        image = all;
      }
      const manifest = JSON.parse(new TextDecoder().decode(root.bytes)) as Record<string, unknown>;
      await ctx.io.stdout.write(
        renderFormat(
          flags.format,
          [{ Name: name, Manifest: { ...manifest, digest: parsed.digest, size: parsed.size }, Image: image }],
          { missingFields: 'no-value' },
        ),
      );
      return;
    }
    let text = alignColumns(`Name:\t${name}\nMediaType:\t${parsed.mediaType}\nDigest:\t${parsed.digest}`, {
      minWidth: 0,
      padding: 1,
    });
    if (parsed.kind === 'index') {
      const rows: string[] = [];
      parsed.index.manifests.forEach((m, i) => {
        if (i > 0) rows.push('\t');
        rows.push(`  Name:\t${formatReference({ domain: ref.domain, path: ref.path })}@${m.digest}`);
        rows.push(`  MediaType:\t${m.mediaType}`);
        if (m.platform) rows.push(`  Platform:\t${formatPlatform(m.platform)}`);
      });
      text += `\n\nManifests:\n${alignColumns(rows.join('\n'), { minWidth: 0, padding: 1 })}`;
    }
    await ctx.out(text);
  } finally {
    await client.close();
  }
}

/** `lade manifest …`, `lade buildx imagetools inspect`, `lade imagetools inspect`. */
export function registerManifestCommands(program: LadeCommand, runtime: Runtime): void {
  const manifest = addGroup(program, 'manifest', 'Manage image manifests and manifest lists');
  addCommand(
    manifest,
    'inspect',
    {
      usage: '[MANIFEST_LIST] MANIFEST',
      description: 'Display an image manifest, or manifest list',
      args: { min: 1, max: 2 },
      flags: (c) =>
        c
          .option('--insecure', 'Allow communication with an insecure registry')
          .option('-v, --verbose', 'Output additional info including layers and platform'),
      run: inspect,
    },
    runtime,
  );
  addCommand(
    manifest,
    'create',
    {
      usage: 'MANIFEST_LIST MANIFEST [MANIFEST...]',
      bareUsage: true,
      description: 'Create a local manifest list for annotating and pushing to a registry',
      args: { min: 2 },
      flags: (c) =>
        c
          .option('-a, --amend', 'Amend an existing manifest list')
          .option('--insecure', 'Allow communication with an insecure registry'),
      run: create,
    },
    runtime,
  );
  addCommand<AnnotateFlags>(
    manifest,
    'annotate',
    {
      usage: 'MANIFEST_LIST MANIFEST',
      description: 'Add additional information to a local image manifest',
      args: { exact: 2 },
      flags: (c) =>
        c
          .option('--os <string>', 'Set operating system')
          .option('--arch <string>', 'Set architecture')
          .option('--variant <string>', 'Set architecture variant')
          .option('--os-version <string>', 'Set operating system version')
          .option('--os-features <string>', 'Set operating system feature (repeatable)', collect),
      run: annotate,
    },
    runtime,
  );
  addCommand(
    manifest,
    'push',
    {
      usage: 'MANIFEST_LIST',
      description: 'Push a manifest list to a repository',
      args: { exact: 1 },
      flags: (c) =>
        c
          .option('-p, --purge', 'Remove the local manifest list after push')
          .option('--insecure', 'Allow push to an insecure registry'),
      run: pushList,
    },
    runtime,
  );
  addCommand(
    manifest,
    'rm',
    {
      usage: 'MANIFEST_LIST [MANIFEST_LIST...]',
      description: 'Delete one or more manifest lists from local storage',
      args: { min: 1 },
      run: removeLists,
    },
    runtime,
  );
  const imagetoolsSpec = {
    usage: 'NAME',
    description: 'Show details of an image in the registry',
    args: { exact: 1 },
    flags: (c: import('commander').Command) =>
      c
        .option('--raw', 'Show original, unformatted JSON manifest')
        .option('--format <string>', 'Format the output using the given Go template'),
    run: imagetoolsInspect,
  } as const;
  const buildx = addGroup(program, 'buildx', 'Registry-side image tools (the imagetools part of docker buildx)');
  const buildxTools = addGroup(buildx, 'imagetools', 'Commands to work on images in registry');
  addCommand(buildxTools, 'inspect', imagetoolsSpec, runtime);
  const imagetools = addGroup(program, 'imagetools', 'Commands to work on images in registry');
  addCommand(imagetools, 'inspect', imagetoolsSpec, runtime);
}
