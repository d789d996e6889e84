import { familiarName, normalizeReference } from '@lade/reference';
import {
  type Credentials,
  type DockerConfigOptions,
  type DockerMessageContext,
  dockerCredentials,
  dockerErrorMessage,
  RegistryClient,
} from '@lade/registry-client';
import type { CliContext } from './context.js';
import { CommandError } from './errors.js';

/** Where docker's config.json lives for this run (`--config` / `$DOCKER_CONFIG`). */
export function configOptions(ctx: CliContext): DockerConfigOptions {
  return { configDir: ctx.options.configDir, env: ctx.io.env };
}

/** A registry client with the run's insecure registries and docker's stored credentials. */
export function registryClient(ctx: CliContext, credentials?: Credentials | null): RegistryClient {
  return new RegistryClient({
    insecureRegistries: ctx.options.insecureRegistries,
    credentials: credentials === undefined ? dockerCredentials(configOptions(ctx)) : credentials,
    userAgent: 'lade',
  });
}

/** docker's `ConvertToHostname`: `https://host:port/v1/` → `host:port`; no server means Docker Hub. */
export function serverHost(server: string | undefined): string {
  if (server === undefined || server === '') return 'docker.io';
  let h = server.replace(/^[a-z]+:\/\//i, '');
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  return h;
}

/** Rewords a registry error the way docker prints it for `action` on `name` (the text the user typed). */
export function dockerError(error: unknown, action: DockerMessageContext['action'], name: string): unknown {
  if (!(error instanceof Error) || !('code' in error)) return error;
  let familiar = name;
  let reference: string | undefined;
  try {
    const n = normalizeReference(name, { defaultTag: false });
    familiar = familiarName(n);
    reference = n.digest ?? n.tag;
  } catch {
    // not a reference: keep the text
  }
  const message = dockerErrorMessage(error, {
    action,
    name: familiar,
    ...(reference !== undefined ? { reference } : {}),
  });
  if (message === error.message) return error;
  return new CommandError(String((error as { code: unknown }).code), message, { cause: error });
}
