import { join } from 'node:path';
import { isDigest } from '@lade/digest';
import {
  type Credentials,
  credentialKey,
  getCredentials,
  readDockerConfig,
  registryLocation,
  removeCredentials,
  saveCredentials,
} from '@lade/registry-client';
import { addCommand, addGroup, collect, type LadeCommand, parseIntFlag, type Runtime } from '../command.js';
import type { CliContext } from '../context.js';
import { CommandError, UsageError } from '../errors.js';
import { readAll, readLine, readSecret } from '../io.js';
import { ellipsis, renderFormat } from '../output.js';
import { configOptions, dockerError, registryClient, serverHost } from '../registry.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

async function login(ctx: CliContext, args: string[], flags: LoginFlags): Promise<void> {
  const host = serverHost(args[0]);
  const { io } = ctx;
  let username = flags.username;
  let password = flags.password;
  if (password !== undefined) {
    await ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    if (flags.passwordStdin) throw new UsageError('--password and --password-stdin are mutually exclusive');
  }
  if (flags.passwordStdin) {
    if (username === undefined) throw new UsageError('Must provide --username with --password-stdin');
    password = (await readAll(io.stdin)).replace(/\n$/, '').replace(/\r$/, '');
  }
  const client = registryClient(ctx, null);
  try {
    const registry = client.registry(host);
    if (username === undefined && password === undefined) {
      const stored = await getCredentials(host, configOptions(ctx));
      if (stored) {
        await ctx.err(
          `Authenticating with existing credentials...${stored.username ? ` [Username: ${stored.username}]` : ''}\n\nInfo → To login with a different account, run 'lade logout' followed by 'lade login'\n`,
        );
        try {
          await registry.login(stored, io.signal ? { signal: io.signal } : {});
          await ctx.out('Login Succeeded');
          return;
        } catch {
          await ctx.err(`Login did not succeed, error: the stored credentials for ${host} were refused`);
        }
      }
    }
    if (username === undefined || password === undefined) {
      if (!io.stdin.isTTY) throw new CommandError('USAGE', 'Cannot perform an interactive login from a non TTY device');
      if (username === undefined) {
        await io.stdout.write('Username: ');
        username = (await readLine(io.stdin))?.trim() ?? '';
        if (username === '') throw new CommandError('USAGE', 'Username is required');
      }
      await io.stdout.write('Password: ');
      password = (await readSecret(io.stdin, io.stdout)) ?? '';
      if (password === '') throw new CommandError('USAGE', 'Password is required');
    }
    const credentials: Credentials = { username, password };
    let result: { identityToken?: string };
    try {
      result = await registry.login(credentials, io.signal ? { signal: io.signal } : {});
    } catch (error) {
      throw dockerError(error, 'login', host);
    }
    const saved: Credentials = result.identityToken ? { username, identityToken: result.identityToken } : credentials;
    await saveCredentials(host, saved, configOptions(ctx));
    const config = await readDockerConfig(configOptions(ctx));
    const helper = config.credHelpers?.[credentialKey(host)] ?? config.credsStore;
    if (!helper) {
      await ctx.err(
        `\nWARNING! Your credentials are stored unencrypted in '${join(ctx.options.configDir, 'config.json')}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n`,
      );
    }
    await ctx.out('Login Succeeded');
  } finally {
    await client.close();
  }
}

async function logout(ctx: CliContext, args: string[]): Promise<void> {
  const host = serverHost(args[0]);
  // docker 28 says this whether or not credentials were stored.
  await ctx.out(`Removing login credentials for ${credentialKey(host)}`);
  await removeCredentials(host, configOptions(ctx));
}

async function listTags(ctx: CliContext, args: string[], flags: { json?: boolean }): Promise<void> {
  const name = args[0] ?? '';
  const loc = registryLocation(name);
  const client = registryClient(ctx);
  try {
    const tags = await client.registry(loc.domain).listTags(loc.repository, io(ctx));
    if (flags.json) await ctx.out(JSON.stringify(tags));
    else for (const t of tags) await ctx.out(t);
  } catch (error) {
    throw dockerError(error, 'pull', name);
  } finally {
    await client.close();
  }
}

function io(ctx: CliContext): { signal?: AbortSignal } {
  return ctx.io.signal ? { signal: ctx.io.signal } : {};
}

async function catalog(ctx: CliContext, args: string[], flags: { json?: boolean }): Promise<void> {
  const host = serverHost(args[0]);
  const client = registryClient(ctx);
  try {
    const repos = await client.registry(host).catalog(io(ctx));
    if (flags.json) await ctx.out(JSON.stringify(repos));
    else for (const r of repos) await ctx.out(r);
  } finally {
    await client.close();
  }
}

async function deleteImage(ctx: CliContext, args: string[]): Promise<void> {
  const name = args[0] ?? '';
  const loc = registryLocation(name);
  const client = registryClient(ctx);
  try {
    const registry = client.registry(loc.domain);
    let digest = loc.digest;
    if (digest === undefined) {
      const tag = loc.tag ?? 'latest';
      try {
        digest = (await registry.resolve(loc.repository, tag, io(ctx))).digest;
      } catch (error) {
        throw dockerError(error, 'inspect', name);
      }
    }
    if (!isDigest(digest)) throw new UsageError(`invalid digest "${digest}"`);
    await registry.deleteManifest(loc.repository, digest, io(ctx));
    await ctx.out(`Deleted: ${loc.domain}/${loc.repository}@${digest}`);
  } finally {
    await client.close();
  }
}

// ---- search ----

interface SearchFlags {
  limit?: number;
  filter?: string[];
  format?: string;
  trunc?: boolean;
  json?: boolean;
}

interface SearchResult {
  readonly name: string;
  readonly description: string;
  readonly star_count: number;
  readonly is_official: boolean;
  readonly is_automated: boolean;
}

/**
 * Docker Hub's search API (`index.docker.io/v1/search`), which docker search uses for docker.io;
 * `$LADE_HUB_SEARCH_URL` points it elsewhere (an internal mirror of the API, or a test's endpoint).
 */
async function hubSearch(ctx: CliContext, term: string, limit: number): Promise<SearchResult[]> {
  const base = ctx.io.env.LADE_HUB_SEARCH_URL || 'https://index.docker.io/v1/search';
  const url = `${base}?q=${encodeURIComponent(term)}&n=${limit}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { 'user-agent': 'lade' }, ...io(ctx) });
  } catch (error) {
    throw new CommandError(
      'UNAVAILABLE',
      `Get "${url}": ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`,
      { cause: error },
    );
  }
  if (!res.ok) throw new CommandError('UNAVAILABLE', `Unexpected status code ${res.status}`);
  const body = (await res.json()) as { results?: SearchResult[] };
  return body.results ?? [];
}

/** Searching another registry: the names of its `_catalog` that contain the term. */
async function catalogSearch(ctx: CliContext, host: string, term: string): Promise<SearchResult[]> {
  const client = registryClient(ctx);
  try {
    const repos = await client.registry(host).catalog(io(ctx));
    return repos
      .filter((r) => r.includes(term))
      .map((r) => ({ name: `${host}/${r}`, description: '', star_count: 0, is_official: false, is_automated: false }));
  } finally {
    await client.close();
  }
}

async function search(ctx: CliContext, args: string[], flags: SearchFlags): Promise<void> {
  const text = args[0] ?? '';
  const limit = flags.limit ?? 25;
  if (limit < 1 || limit > 100) throw new CommandError('USAGE', `limit ${limit} is outside the range of [1, 100]`);
  let stars = 0;
  let official: boolean | undefined;
  let automated: boolean | undefined;
  for (const f of flags.filter ?? []) {
    const eq = f.indexOf('=');
    const key = eq > 0 ? f.slice(0, eq) : f;
    const value = eq > 0 ? f.slice(eq + 1) : '';
    if (key === 'stars') {
      if (!/^\d+$/.test(value)) throw new CommandError('FILTER_INVALID', `invalid filter 'stars=${value}'`);
      stars = Number(value);
    } else if (key === 'is-official' || key === 'is-automated') {
      if (!['true', 'false'].includes(value))
        throw new CommandError('FILTER_INVALID', `invalid filter '${key}=${value}'`);
      if (key === 'is-official') official = value === 'true';
      else automated = value === 'true';
    } else {
      throw new CommandError('FILTER_INVALID', `invalid filter '${key}'`);
    }
  }
  const slash = text.indexOf('/');
  const first = slash > 0 ? text.slice(0, slash) : '';
  const isRegistry =
    first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost') && !isDockerHubHost(first);
  const results = isRegistry
    ? await catalogSearch(ctx, first, text.slice(slash + 1))
    : await hubSearch(ctx, isDockerHubHost(first) ? text.slice(slash + 1) : text, limit);
  const kept = results
    .filter(
      (r) =>
        r.star_count >= stars &&
        (official === undefined || r.is_official === official) &&
        (automated === undefined || r.is_automated === automated),
    )
    .slice(0, limit);
  if (flags.json) {
    await ctx.out(JSON.stringify(kept, null, 2));
    return;
  }
  const rows = kept.map((r) => {
    const description = r.description.replace(/\n/g, ' ').replace(/\r/g, ' ');
    return {
      Name: r.name,
      Description: flags.trunc === false ? description : ellipsis(description, 45),
      StarCount: String(r.star_count),
      IsOfficial: r.is_official ? '[OK]' : '',
      IsAutomated: r.is_automated ? '[OK]' : '',
    };
  });
  await ctx.io.stdout.write(
    renderFormat(flags.format ?? '', rows, {
      headers: {
        Name: 'NAME',
        Description: 'DESCRIPTION',
        StarCount: 'STARS',
        IsOfficial: 'OFFICIAL',
        IsAutomated: 'AUTOMATED',
      },
      defaultFormat: 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}',
      contextRows: true,
    }),
  );
}

function isDockerHubHost(host: string): boolean {
  return ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(host);
}

/** `login`, `logout`, `tags ls`, `catalog`, `delete`, `search`. */
export function registerRegistryCommands(program: LadeCommand, runtime: Runtime): void {
  addCommand<LoginFlags>(
    program,
    'login',
    {
      usage: '[SERVER]',
      summary: 'Authenticate to a registry',
      description: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
      args: { min: 0, max: 1 },
      flags: (c) =>
        c
          .option('-u, --username <string>', 'Username')
          .option('-p, --password <string>', 'Password or Personal Access Token (PAT)')
          .option('--password-stdin', 'Take the Password or Personal Access Token (PAT) from stdin'),
      run: login,
    },
    runtime,
  );
  addCommand(
    program,
    'logout',
    {
      usage: '[SERVER]',
      summary: 'Log out from a registry',
      description: 'Log out from a registry.\nIf no server is specified, the default is Docker Hub.',
      args: { min: 0, max: 1 },
      run: logout,
    },
    runtime,
  );
  const tags = addGroup(program, 'tags', "List a repository's tags on its registry");
  addCommand<{ json?: boolean }>(
    tags,
    'ls',
    {
      usage: 'NAME',
      description: 'List the tags of a repository',
      args: { exact: 1 },
      flags: (c) => c.option('--json', 'Print a JSON array'),
      run: listTags,
    },
    runtime,
    ['list'],
  );
  addCommand<{ json?: boolean }>(
    program,
    'catalog',
    {
      usage: 'REGISTRY',
      description: "List a registry's repositories (its /v2/_catalog)",
      args: { exact: 1 },
      flags: (c) => c.option('--json', 'Print a JSON array'),
      run: catalog,
    },
    runtime,
  );
  addCommand<SearchFlags>(
    program,
    'search',
    {
      usage: 'TERM',
      description: 'Search Docker Hub for images (or the catalog of another registry: HOST/TERM)',
      args: { exact: 1 },
      flags: (c) =>
        c
          .option('-f, --filter <filter>', 'Filter output based on conditions provided', collect)
          .option('--format <string>', 'Pretty-print search using a Go template')
          .option('--limit <int>', 'Max number of search results', parseIntFlag('limit'))
          .option('--no-trunc', "Don't truncate output")
          .option('--json', 'Print the results as a JSON array (lade)'),
      run: search,
    },
    runtime,
  );
  addCommand(
    program,
    'delete',
    {
      usage: 'NAME@DIGEST|NAME:TAG',
      description: 'Delete a manifest from its registry (a tag is resolved to its digest first)',
      args: { exact: 1 },
      run: deleteImage,
    },
    runtime,
  );
}
