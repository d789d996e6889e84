import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompress } from '@lade/archive';
import { hostPlatform, type ImageConfig, type Platform, parsePlatform } from '@lade/manifest';
import {
  diffDirectory,
  diffLayer,
  flattenImage,
  formatChanges,
  loadImage,
  type RootfsWarning,
  readUnpackRecord,
  unpackImage,
} from '@lade/rootfs';
import type { Command } from 'commander';
import { pullForBuild } from '../build/pull.js';
import { addCommand, addGroup, collect, type LadeCommand, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { CommandError, UsageError } from '../errors.js';
import { openStore } from '../store.js';
import { applyChanges, buildImage, layerMediaType, sourceDateEpoch, storeImage, writeLayerBlob } from './build.js';

/** The files of a bundle made by `lade unpack`: the root filesystem and the record beside it. */
export const BUNDLE_ROOTFS = 'rootfs';
export const BUNDLE_RECORD = 'lade-unpack.json';

function platformOf(flag: string | undefined): Platform | undefined {
  return flag ? parsePlatform(flag) : undefined;
}

function warner(ctx: CliContext): (w: RootfsWarning) => void {
  return (w) => void ctx.err(`WARNING: ${w.message}`);
}

function now(ctx: CliContext): string {
  const epoch = sourceDateEpoch(ctx.io.env);
  return (epoch !== undefined ? new Date(epoch * 1000) : new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---- unpack ----

interface UnpackFlags {
  platform?: string;
  rootless?: boolean;
}

async function unpack(ctx: CliContext, [name, dir]: string[], flags: UnpackFlags): Promise<void> {
  const store = await openStore(ctx);
  const bundle = resolve(dir as string);
  const existing = await readdir(bundle).catch(() => undefined);
  if (existing !== undefined && existing.length > 0) {
    throw new CommandError('ROOTFS_EXISTS', `${dir} is not empty; unpack into a new or empty directory`);
  }
  const platform = platformOf(flags.platform);
  await unpackImage(store.source(name as string), join(bundle, BUNDLE_ROOTFS), {
    ...(platform ? { platform } : {}),
    rootless: flags.rootless === true || (typeof process.getuid === 'function' && process.getuid() !== 0),
    onWarning: warner(ctx),
    recordPath: join(bundle, BUNDLE_RECORD),
    imageName: name as string,
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  });
}

// ---- export ----

async function writeOutput(
  ctx: CliContext,
  stream: ReadableStream<Uint8Array>,
  output: string | undefined,
): Promise<void> {
  if (output === undefined || output === '-') {
    if (ctx.io.stdout.isTTY) {
      await stream.cancel();
      throw new CommandError('USAGE', 'cowardly refusing to save to a terminal. Use the -o flag or redirect');
    }
    const reader = stream.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      await ctx.io.stdout.write(r.value);
    }
    return;
  }
  const target = resolve(output);
  const tmp = join(dirname(target), `.${basename(target)}.lade-tmp-${process.pid}`);
  try {
    await pipeline(
      Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>),
      createWriteStream(tmp),
    );
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function exportImage(
  ctx: CliContext,
  [name]: string[],
  flags: { output?: string; platform?: string },
): Promise<void> {
  const store = await openStore(ctx);
  const source = store.source(name as string);
  const platform = platformOf(flags.platform);
  const image = await loadImage(source, platform ? { platform } : {});
  await writeOutput(ctx, flattenImage(source, { image, onWarning: warner(ctx) }), flags.output);
}

// ---- diff ----

async function bundleRecord(dir: string) {
  const bundle = resolve(dir);
  const rootfs = join(bundle, BUNDLE_ROOTFS);
  if (!(await stat(rootfs).catch(() => undefined))?.isDirectory()) {
    throw new CommandError(
      'UNPACK_RECORD_INVALID',
      `${dir} is not a bundle made by lade unpack (no ${BUNDLE_ROOTFS}/ directory); run lade unpack IMAGE ${dir} first`,
    );
  }
  return { rootfs, record: await readUnpackRecord(join(bundle, BUNDLE_RECORD)) };
}

async function diff(ctx: CliContext, [dir]: string[]): Promise<void> {
  const { rootfs, record } = await bundleRecord(dir as string);
  for (const line of formatChanges(diffDirectory(rootfs, record))) await ctx.out(line);
}

// ---- commit ----

interface CommitFlags {
  base?: string;
  message?: string;
  author?: string;
  change?: string[];
}

async function commit(ctx: CliContext, [dir, name]: string[], flags: CommitFlags): Promise<void> {
  const { rootfs, record } = await bundleRecord(dir as string);
  const store = await openStore(ctx);
  const baseName = flags.base ?? record.image?.name;
  if (baseName === undefined)
    throw new CommandError('USAGE', 'name the image the directory was unpacked from with --base IMAGE');
  const baseSource = store.source(baseName);
  const base = await loadImage(baseSource, record.image?.platform ? { platform: record.image.platform } : {});
  if (record.image && record.image.config !== base.config.digest) {
    throw new CommandError(
      'UNPACK_RECORD_INVALID',
      `${dir} was unpacked from image ${record.image.config}, not ${baseName} (${base.config.digest}); commit against the image it was unpacked from`,
    );
  }
  const changes = diffDirectory(rootfs, record);
  const docker = base.manifest.mediaType === 'application/vnd.docker.distribution.manifest.v2+json';
  const epoch = sourceDateEpoch(ctx.io.env);
  const work = await mkdtemp(join(tmpdir(), 'lade-commit-'));
  try {
    const layer = await writeLayerBlob(
      diffLayer(rootfs, changes, {
        ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
        rootless: record.rootless,
      }),
      work,
      layerMediaType(docker),
    );
    const bc = base.config.config;
    const created = now(ctx);
    const config: ImageConfig = {
      ...bc,
      created,
      ...(flags.author !== undefined ? { author: flags.author } : {}),
      config: await applyChanges(bc.config, flags.change ?? []),
      rootfs: { type: 'layers', diff_ids: [...bc.rootfs.diff_ids, layer.diffId] },
      history: [
        ...(bc.history ?? []),
        {
          created,
          ...(flags.author !== undefined ? { author: flags.author } : {}),
          created_by: 'lade commit',
          ...(flags.message !== undefined ? { comment: flags.message } : {}),
        },
      ],
    };
    const { id } = await storeImage(store, name as string, { base, baseSource, layers: [layer], config, docker });
    await ctx.out(id);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---- image import ----

async function importImage(
  ctx: CliContext,
  [file, name]: string[],
  flags: { change?: string[]; message?: string; platform?: string },
): Promise<void> {
  const store = await openStore(ctx);
  const input =
    file === '-'
      ? ctx.io.stdin.stream()
      : (Readable.toWeb(
          (await import('node:fs')).createReadStream(resolve(file as string)),
        ) as unknown as ReadableStream<Uint8Array>);
  if (file !== '-' && !(await stat(resolve(file as string)).catch(() => undefined))) {
    throw new CommandError('USAGE', `open ${file}: no such file or directory`);
  }
  const { stream } = await decompress(input);
  const work = await mkdtemp(join(tmpdir(), 'lade-import-'));
  try {
    const layer = await writeLayerBlob(stream, work, layerMediaType(false));
    const platform = platformOf(flags.platform) ?? hostPlatform();
    const created = now(ctx);
    const config: ImageConfig = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created,
      config: await applyChanges({}, flags.change ?? []),
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, comment: flags.message ?? `Imported from ${file === '-' ? '-' : file}` }],
    };
    const target = name ?? '';
    if (target === '') throw new UsageError("lade: 'image import' requires a NAME[:TAG] for the image");
    const { id } = await storeImage(store, target, { layers: [layer], config, docker: false });
    await ctx.out(id);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---- build ----

interface BuildFlags {
  tag?: string[];
  file?: string;
  buildArg?: string[];
  platform?: string;
  quiet?: boolean;
  target?: string;
}

async function build(ctx: CliContext, [context]: string[], flags: BuildFlags): Promise<void> {
  const tags = flags.tag ?? [];
  if (tags.length === 0) throw new UsageError('lade build needs a name for the image: -t NAME[:TAG]');
  const buildArgs = new Map<string, string>();
  for (const a of flags.buildArg ?? []) {
    const i = a.indexOf('=');
    if (i > 0) buildArgs.set(a.slice(0, i), a.slice(i + 1));
    else {
      const v = ctx.io.env[a];
      if (v !== undefined) buildArgs.set(a, v);
    }
  }
  const store = await openStore(ctx);
  const platform = platformOf(flags.platform);
  const quiet = flags.quiet === true;
  const result = await buildImage(store, tags[0] as string, {
    context: context as string,
    ...(flags.file !== undefined ? { dockerfile: flags.file } : {}),
    buildArgs,
    ...(platform ? { platform } : {}),
    ...(flags.target !== undefined ? { target: flags.target } : {}),
    pull: (ref: string, p: Platform) => pullForBuild(ctx, store, ref, p),
    env: ctx.io.env,
    ...(quiet ? {} : { onStep: (s: string) => ctx.out(s) }),
  });
  for (const t of tags.slice(1)) await store.tag(tags[0] as string, t);
  if (quiet) {
    await ctx.out(result.id);
    return;
  }
  await ctx.out(`Successfully built ${result.id.slice(7, 19)}`);
  for (const t of tags) await ctx.out(`Successfully tagged ${t}`);
}

// ---- registration ----

function platformFlag(cmd: Command): void {
  cmd.option('--platform <string>', 'Set platform if the image is multi-platform (os/arch[/variant])');
}

/** Adds unpack, export, diff, commit, build and `image import`. */
export function registerRootfsCommands(program: LadeCommand, runtime: Runtime): void {
  addCommand(
    program,
    'unpack',
    {
      usage: 'IMAGE DIR',
      description: "Unpack an image's root filesystem into DIR/rootfs (with DIR/lade-unpack.json for diff and commit)",
      args: { exact: 2 },
      flags: (cmd) => {
        platformFlag(cmd);
        cmd.option('--rootless', 'Leave files owned by the current user and skip device nodes (default when not root)');
      },
      run: unpack,
    },
    runtime,
  );
  addCommand(
    program,
    'export',
    {
      usage: 'IMAGE',
      description: "Export an image's final file system as one tar archive",
      args: { exact: 1 },
      flags: (cmd) => {
        cmd.option('-o, --output <file>', 'Write to a file, instead of STDOUT');
        platformFlag(cmd);
      },
      run: exportImage,
    },
    runtime,
  );
  addCommand(
    program,
    'diff',
    {
      usage: 'DIR',
      description: 'Inspect changes to files or directories of an unpacked image (A added, C changed, D deleted)',
      args: { exact: 1 },
      run: diff,
    },
    runtime,
  );
  addCommand(
    program,
    'commit',
    {
      usage: 'DIR [REPOSITORY[:TAG]]',
      description: 'Create a new image from the changes to an unpacked image',
      args: { min: 2, max: 2 },
      flags: (cmd) => {
        cmd.option('--base <image>', 'The image DIR was unpacked from (default: the one recorded by lade unpack)');
        cmd.option('-m, --message <string>', 'Commit message');
        cmd.option('-a, --author <string>', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")');
        cmd.option(
          '-c, --change <instruction>',
          'Apply Dockerfile instruction to the created image (repeatable)',
          collect,
        );
      },
      run: commit,
    },
    runtime,
  );
  const buildSpec = {
    usage: 'PATH',
    description: 'Build an image from a Dockerfile (without RUN: lade has no container runtime)',
    args: { exact: 1 },
    flags: (cmd: Command) => {
      cmd.option('-t, --tag <name>', 'Name and optionally a tag in the "name:tag" format (repeatable)', collect);
      cmd.option('-f, --file <string>', "Name of the Dockerfile (default: 'PATH/Dockerfile')");
      cmd.option('--build-arg <list>', 'Set build-time variables (repeatable)', collect);
      cmd.option('-q, --quiet', 'Suppress the build output and print image ID on success');
      cmd.option('--target <string>', 'Set the target build stage to build');
      platformFlag(cmd);
    },
    run: build,
  } as const;
  addCommand(program, 'build', buildSpec, runtime);
  const importSpec = {
    usage: 'file|- [REPOSITORY[:TAG]]',
    description: 'Import the contents from a tarball to create a filesystem image',
    args: { min: 2, max: 2 },
    flags: (cmd: Command) => {
      cmd.option(
        '-c, --change <instruction>',
        'Apply Dockerfile instruction to the created image (repeatable)',
        collect,
      );
      cmd.option('-m, --message <string>', 'Set commit message for imported image');
      platformFlag(cmd);
    },
    run: importImage,
  } as const;
  const image =
    (program.commands.find((c) => c.name() === 'image') as LadeCommand | undefined) ??
    addGroup(program, 'image', 'Manage images');
  addCommand(image, 'import', importSpec, runtime);
  addCommand(program, 'import', importSpec, runtime);
  const builder =
    (program.commands.find((c) => c.name() === 'builder') as LadeCommand | undefined) ??
    addGroup(program, 'builder', 'Manage builds');
  addCommand(builder, 'build', buildSpec, runtime);
  addCommand(image, 'build', buildSpec, runtime);
}
