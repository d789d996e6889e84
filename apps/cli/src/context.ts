import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CliIo } from './io.js';

/** The global flags every command sees (`lade [GLOBAL OPTIONS] COMMAND`). */
export interface GlobalOptions {
  /** The local image store (an OCI image layout): `--root`, `$LADE_HOME`, default `~/.local/share/lade`. */
  readonly root: string;
  /** docker's config directory (`config.json` with credentials): `--config`, `$DOCKER_CONFIG`, default `~/.docker`. */
  readonly configDir: string;
  /** Registries reached over plain http or with unverified TLS: `--insecure-registry`, `$LADE_INSECURE_REGISTRY` (comma-separated). */
  readonly insecureRegistries: readonly string[];
  /** Print stack traces and causes of errors. */
  readonly debug: boolean;
}

/** The raw global flags as commander parsed them. */
export interface RawGlobalFlags {
  readonly root?: string;
  readonly config?: string;
  readonly insecureRegistry?: readonly string[];
  readonly debug?: boolean;
}

/** Resolves the global flags against the environment. */
export function resolveGlobalOptions(flags: RawGlobalFlags, env: CliIo['env']): GlobalOptions {
  const home = env.HOME || homedir();
  const root = flags.root ?? env.LADE_HOME ?? join(home, '.local', 'share', 'lade');
  const configDir = flags.config ?? env.DOCKER_CONFIG ?? join(home, '.docker');
  const fromEnv = (env.LADE_INSECURE_REGISTRY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return {
    root: resolve(root),
    configDir: resolve(configDir),
    insecureRegistries: [...new Set([...fromEnv, ...(flags.insecureRegistry ?? [])])],
    debug: flags.debug === true || env.LADE_DEBUG === '1',
  };
}

/** What a command runs with: the streams and the resolved global options. */
export interface CliContext {
  readonly io: CliIo;
  readonly options: GlobalOptions;
  /** Writes one line to stdout. */
  out(line: string): Promise<void>;
  /** Writes one line to stderr. */
  err(line: string): Promise<void>;
}

/** A context over `io` with `options`. */
export function createContext(io: CliIo, options: GlobalOptions): CliContext {
  return {
    io,
    options,
    out: (line) => io.stdout.write(`${line}\n`),
    err: (line) => io.stderr.write(`${line}\n`),
  };
}
