import { dirname, join, resolve } from 'node:path';
import type { ServerConfig } from '@lade/server';
import { addCommand, type LadeCommand, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';

interface ServeFlags {
  addr?: string;
  root?: string;
  config?: string;
  readOnly?: boolean;
  accessLog?: boolean;
}

/** Resolves when the run is cancelled (Ctrl-C / SIGTERM through the io's signal). */
function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done) => {
    if (!signal) return;
    if (signal.aborted) done();
    else signal.addEventListener('abort', () => done(), { once: true });
  });
}

async function runServe(ctx: CliContext, _args: string[], flags: ServeFlags): Promise<void> {
  // Loaded on use: the server is the heaviest package and only this command needs it.
  const { createRegistry, FilesystemDriver, loadConfig, parseAddr, serve } = await import('@lade/server');
  let config: ServerConfig | undefined = flags.config !== undefined ? loadConfig(resolve(flags.config)) : undefined;
  const root =
    flags.root !== undefined
      ? resolve(flags.root)
      : config === undefined
        ? join(dirname(ctx.options.root), 'lade-registry')
        : undefined;
  let listen: { hostname: string; port: number };
  try {
    listen =
      flags.addr !== undefined
        ? parseAddr(flags.addr)
        : config !== undefined
          ? { hostname: config.hostname, port: config.port }
          : { hostname: '127.0.0.1', port: 5000 };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), 125);
  }
  const base = config?.registry ?? {};
  const storage = root !== undefined ? new FilesystemDriver(root) : base.storage;
  const accessLog = flags.accessLog === true;
  const registry = createRegistry({
    ...base,
    ...(storage ? { storage } : {}),
    ...(flags.readOnly ? { readOnly: true } : {}),
    ...(accessLog ? { log: (entry: unknown) => void ctx.out(JSON.stringify(entry)) } : {}),
  });
  config = undefined;
  const server = await serve({ registry, port: listen.port, hostname: listen.hostname });
  await ctx.err(`lade serve: listening on ${server.url} (storage: ${root ?? registry.store.driver.name})`);
  try {
    await untilAborted(ctx.io.signal);
  } finally {
    await server.close();
    await registry.close();
  }
}

/** `lade serve`: the registry server of @lade/server on this machine. */
export function registerServeCommand(program: LadeCommand, runtime: Runtime): void {
  addCommand<ServeFlags>(
    program,
    'serve',
    {
      usage: '',
      description: 'Run a registry (OCI distribution API) on filesystem storage until interrupted',
      args: { exact: 0 },
      flags: (c) =>
        c
          .option('--addr <host:port>', 'Listen address (default 127.0.0.1:5000; port 0 picks a free one)')
          .option('--root <dir>', 'Storage directory (default: lade-registry beside the image store)')
          .option('--config <file>', "Registry config file (distribution's YAML: storage, http.addr, auth, proxy)")
          .option('--read-only', 'Refuse pushes and deletes')
          .option('--access-log', 'Print one JSON line per request on stdout'),
      run: runServe,
    },
    runtime,
  );
}
