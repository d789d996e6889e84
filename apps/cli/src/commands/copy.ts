import { resolve as resolvePath } from 'node:path';
import type { Archive } from '@lade/archive';
import { type CopyEvent, copy, type ImageFormat, type ImageSink, type ImageSource } from '@lade/manifest';
import { familiarString, normalizeReference } from '@lade/reference';
import {
  type Credentials,
  dockerCredentials,
  RegistryClient,
  registryLocation,
  registrySink,
  registrySource,
} from '@lade/registry-client';
import { ociLayoutSink, ociLayoutSource } from '@lade/store';
import { addCommand, type LadeCommand, parseBool, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { configOptions, dockerError } from '../registry.js';
import { openStore } from '../store.js';
import { formatImageLocation, type ImageLocation, parseImageLocation } from '../transport-name.js';

interface CopyFlags {
  all?: boolean;
  platform?: string;
  format?: string;
  srcCreds?: string;
  destCreds?: string;
  srcTlsVerify?: boolean;
  destTlsVerify?: boolean;
  quiet?: boolean;
}

function parseCreds(flag: string, value: string | undefined): Credentials | undefined {
  if (value === undefined) return undefined;
  const colon = value.indexOf(':');
  if (colon <= 0)
    throw new UsageError(`invalid argument "${value}" for "--${flag}": expected USERNAME[:PASSWORD]`, 125);
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

function clientFor(
  ctx: CliContext,
  location: ImageLocation,
  creds: Credentials | undefined,
  tlsVerify: boolean | undefined,
): RegistryClient {
  const insecure = [...ctx.options.insecureRegistries];
  if (location.transport === 'docker' && tlsVerify === false)
    insecure.push(registryLocation(location.reference).domain);
  return new RegistryClient({
    insecureRegistries: insecure,
    credentials: creds ?? dockerCredentials(configOptions(ctx)),
    userAgent: 'lade',
  });
}

/** Things to release once the copy is over. */
type Cleanup = () => Promise<void>;

async function openSource(
  ctx: CliContext,
  location: ImageLocation,
  client: RegistryClient,
  cleanups: Cleanup[],
): Promise<ImageSource> {
  switch (location.transport) {
    case 'docker':
      return registrySource(location.reference, { client });
    case 'oci':
      return ociLayoutSource(resolvePath(location.path), location.reference);
    case 'oci-archive':
    case 'docker-archive': {
      const { openArchive } = await import('@lade/archive');
      const archive: Archive = await openArchive(
        resolvePath(location.path),
        ctx.io.signal ? { signal: ctx.io.signal } : {},
      );
      cleanups.push(() => archive.close());
      return archive.source(location.reference);
    }
    case 'lade':
      return (await openStore(ctx)).source(location.reference);
  }
}

async function openSink(ctx: CliContext, location: ImageLocation, client: RegistryClient): Promise<ImageSink> {
  switch (location.transport) {
    case 'docker':
      return registrySink(location.reference, { client });
    case 'oci':
      return ociLayoutSink(resolvePath(location.path), location.reference);
    case 'oci-archive': {
      const { archiveFileSink } = await import('@lade/archive');
      return archiveFileSink(resolvePath(location.path), {
        format: 'oci',
        names: location.reference !== undefined ? [location.reference] : [],
      });
    }
    case 'docker-archive': {
      const { archiveFileSink } = await import('@lade/archive');
      const names = location.reference !== undefined ? [familiarString(normalizeReference(location.reference))] : [];
      return archiveFileSink(resolvePath(location.path), { format: 'docker', names });
    }
    case 'lade':
      return (await openStore(ctx)).sink(location.reference);
  }
}

/** skopeo's plain copy lines: `Copying blob sha256:… done`, `Copying config sha256:… done`. */
function copyLines(ctx: CliContext, quiet: boolean): (e: CopyEvent) => void {
  return (e) => {
    if (quiet || !('role' in e)) return;
    const what = e.role === 'config' ? 'config' : 'blob';
    if (e.type === 'complete') void ctx.out(`Copying ${what} ${e.descriptor.digest} done`);
    else if (e.type === 'exists') void ctx.out(`Copying ${what} ${e.descriptor.digest} skipped: already exists`);
    else if (e.type === 'mounted') void ctx.out(`Copying ${what} ${e.descriptor.digest} skipped: mounted`);
    else if (e.type === 'skipped') void ctx.out(`Copying ${what} ${e.descriptor.digest} skipped: foreign layer`);
  };
}

async function runCopy(ctx: CliContext, args: string[], flags: CopyFlags): Promise<void> {
  const [srcText = '', destText = ''] = args;
  const src = parseImageLocation(srcText);
  const dest = parseImageLocation(destText);
  if (flags.all && flags.platform !== undefined)
    throw new UsageError('--all and --platform cannot be used together', 125);
  let format: ImageFormat | undefined;
  if (flags.format !== undefined) {
    if (flags.format !== 'oci' && flags.format !== 'v2s2')
      throw new UsageError(`unknown format "${flags.format}". Choose one of the supported formats: oci, v2s2`, 125);
    format = flags.format;
  }
  const srcClient = clientFor(ctx, src, parseCreds('src-creds', flags.srcCreds), flags.srcTlsVerify);
  const destClient = clientFor(ctx, dest, parseCreds('dest-creds', flags.destCreds), flags.destTlsVerify);
  const cleanups: Cleanup[] = [];
  const quiet = flags.quiet === true;
  let sink: ImageSink | undefined;
  let source: ImageSource | undefined;
  try {
    source = await openSource(ctx, src, srcClient, cleanups);
    sink = await openSink(ctx, dest, destClient);
    if (!quiet) await ctx.out('Getting image source signatures');
    try {
      await copy(source, sink, {
        ...(flags.all ? { all: true } : {}),
        ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
        ...(format !== undefined ? { format } : {}),
        ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
        onProgress: copyLines(ctx, quiet),
      });
    } catch (error) {
      const name =
        src.transport === 'docker'
          ? src.reference
          : dest.transport === 'docker'
            ? dest.reference
            : formatImageLocation(src);
      throw dockerError(error, src.transport === 'docker' ? 'pull' : 'push', name);
    }
    if (!quiet) await ctx.out('Writing manifest to image destination');
  } finally {
    await sink?.close?.();
    await source?.close?.();
    for (const c of cleanups) await c();
    await srcClient.close();
    await destClient.close();
  }
}

/** `lade copy SRC DST` between skopeo's transports and the local store. */
export function registerCopyCommand(program: LadeCommand, runtime: Runtime): void {
  addCommand<CopyFlags>(
    program,
    'copy',
    {
      usage: 'SOURCE-IMAGE DESTINATION-IMAGE',
      description:
        'Copy an image between docker://REF, oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:NAME:TAG] and the local store (NAME:TAG or lade:NAME)',
      args: { exact: 2 },
      flags: (c) =>
        c
          .option('-a, --all', 'Copy every image of a list (and the list itself)')
          .option('--platform <string>', 'Copy the image of this platform out of a list (os/arch[/variant])')
          .option('-f, --format <string>', 'Manifest type of the destination: oci or v2s2 (default: unchanged)')
          .option('--src-creds <string>', 'Use USERNAME[:PASSWORD] for the source registry')
          .option('--dest-creds <string>', 'Use USERNAME[:PASSWORD] for the destination registry')
          .option(
            '--src-tls-verify [bool]',
            'Require HTTPS and verify certificates for the source registry',
            parseBool('src-tls-verify'),
          )
          .option(
            '--dest-tls-verify [bool]',
            'Require HTTPS and verify certificates for the destination registry',
            parseBool('dest-tls-verify'),
          )
          .option('-q, --quiet', 'Suppress output information when copying images'),
      run: runCopy,
    },
    runtime,
  );
}
