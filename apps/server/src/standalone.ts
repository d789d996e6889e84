import { loadConfig, parseAddr, parseConfig, type ServerConfig } from './config.js';
import { type RunningServer, serve } from './node.js';
import { type AccessLogEntry, createRegistry, type Registry } from './registry.js';
import { FilesystemDriver } from './storage/filesystem.js';

/** Options of {@link startServer}: what `lade-server` and `lade serve` take on their command lines. */
export interface StartServerOptions {
  /** A registry.yml (distribution-style); default: filesystem storage in ./registry-data on :5000. */
  readonly config?: string;
  /** Listen address (`HOST:PORT`, `:PORT`), overriding http.addr. */
  readonly addr?: string;
  /** Filesystem storage root, overriding the config's storage. */
  readonly root?: string;
  /** Refuse writes (maintenance mode). */
  readonly readOnly?: boolean;
  /** Where access-log entries go; default: JSON lines on stdout unless the config disables them. Pass null for none. */
  readonly log?: ((entry: AccessLogEntry) => void) | null;
}

/** A started standalone registry. */
export interface StartedServer {
  readonly registry: Registry;
  readonly server: RunningServer;
  readonly config: ServerConfig;
  /** Graceful stop: in-flight requests finish, then storage is released. */
  close(): Promise<void>;
}

/** Resolves the settings of a standalone registry from a config file and command-line overrides. */
export function resolveServerConfig(options: Omit<StartServerOptions, 'log'> = {}): ServerConfig {
  let config = options.config
    ? loadConfig(options.config)
    : parseConfig('storage: {filesystem: {rootdirectory: ./registry-data}}');
  if (options.root)
    config = { ...config, registry: { ...config.registry, storage: new FilesystemDriver(options.root) } };
  if (options.addr) config = { ...config, ...parseAddr(options.addr) };
  if (options.readOnly) config = { ...config, registry: { ...config.registry, readOnly: true } };
  return config;
}

/**
 * Starts a standalone registry on Node, as `lade-server` does (the CLI's `lade serve` is this call).
 *
 * @example
 * const { server, close } = await startServer({ root: './data', addr: '127.0.0.1:5000' });
 * process.on('SIGTERM', close);
 */
export async function startServer(options: StartServerOptions = {}): Promise<StartedServer> {
  const config = resolveServerConfig(options);
  const log =
    options.log === null
      ? undefined
      : (options.log ??
        (config.accessLog ? (entry: AccessLogEntry) => process.stdout.write(`${JSON.stringify(entry)}\n`) : undefined));
  const registry = createRegistry({ ...config.registry, ...(log ? { log } : {}) });
  const server = await serve({ registry, port: config.port, hostname: config.hostname });
  return {
    registry,
    server,
    config,
    async close() {
      await server.close();
      await registry.close();
    },
  };
}
