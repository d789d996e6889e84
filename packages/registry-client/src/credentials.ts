import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CredentialsError } from './errors.js';
import { DOCKER_HUB_AUTH_KEY, isDockerHub } from './hosts.js';

/** Credentials for one registry. A username/password pair, an OAuth identity (refresh) token, or a ready bearer token. */
export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token (docker's `identitytoken`); exchanged at the token endpoint for access tokens. */
  readonly identityToken?: string;
  /** A bearer token sent as is (docker's `registrytoken`). */
  readonly registryToken?: string;
}

/** Looks up the credentials for a registry host (`docker.io`, `127.0.0.1:5000`); undefined when there are none. */
export type CredentialProvider = (host: string) => Promise<Credentials | undefined>;

/** Where docker's client configuration lives and how credential helpers run. */
export interface DockerConfigOptions {
  /** The folder holding `config.json`; defaults to `$DOCKER_CONFIG`, else `~/.docker`. */
  readonly configDir?: string;
  /** Environment of credential helpers (PATH finds `docker-credential-*`) and of `DOCKER_CONFIG`; defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The parts of docker's `config.json` lade reads; every other field is preserved on write. */
export interface DockerConfigFile {
  auths?: Record<string, DockerAuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** One entry of `auths`. */
export interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
  [key: string]: unknown;
}

/** The folder of docker's client configuration. */
export function dockerConfigDir(options: DockerConfigOptions = {}): string {
  const env = options.env ?? process.env;
  return options.configDir ?? env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker');
}

/** Reads `config.json` (an empty config when the file does not exist). */
export async function readDockerConfig(options: DockerConfigOptions = {}): Promise<DockerConfigFile> {
  const path = join(dockerConfigDir(options), 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CredentialsError(`cannot read ${path}: ${(e as Error).message}; check its permissions`, { cause: e });
  }
  if (!text.trim()) return {};
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('not a JSON object');
    return json as DockerConfigFile;
  } catch (e) {
    throw new CredentialsError(`${path} is not valid JSON (${(e as Error).message}); fix or remove it`, { cause: e });
  }
}

/** The key docker uses for a registry in `auths` and credential helpers: Docker Hub is `https://index.docker.io/v1/`. */
export function credentialKey(host: string): string {
  return isDockerHub(host) ? DOCKER_HUB_AUTH_KEY : host;
}

// docker's ConvertToHostname: `https://host:port/v1/` → `host:port`.
function keyHostname(key: string): string {
  let h = key.replace(/^[a-z]+:\/\//i, '');
  const slash = h.indexOf('/');
  if (slash >= 0) h = h.slice(0, slash);
  return h;
}

function sameRegistry(key: string, host: string): boolean {
  const k = keyHostname(key);
  if (isDockerHub(host)) return isDockerHub(k);
  return k === host;
}

function decodeAuthEntry(entry: DockerAuthEntry, key: string): Credentials | undefined {
  let username = entry.username;
  let password = entry.password;
  if (typeof entry.auth === 'string' && entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
      throw new CredentialsError(`the "auth" of ${key} in config.json is not base64 of user:password; log in again`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const creds: Credentials = {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(entry.identitytoken ? { identityToken: entry.identitytoken } : {}),
    ...(entry.registrytoken ? { registryToken: entry.registrytoken } : {}),
  };
  return Object.keys(creds).length ? creds : undefined;
}

interface HelperResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runHelper(
  name: string,
  action: 'get' | 'store' | 'erase',
  input: string,
  options: DockerConfigOptions,
): Promise<HelperResult> {
  const command = `docker-credential-${name}`;
  const env = { ...(options.env ?? process.env) } as NodeJS.ProcessEnv;
  return new Promise((resolve, reject) => {
    const child = spawn(command, [action], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      reject(
        new CredentialsError(
          (e as NodeJS.ErrnoException).code === 'ENOENT'
            ? `credential helper ${command} is not installed (named in config.json); install it or remove it from config.json`
            : `credential helper ${command} failed to start: ${e.message}`,
          { cause: e },
        ),
      );
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

const notFound = /credentials not found/i;

async function helperGet(
  name: string,
  serverUrl: string,
  options: DockerConfigOptions,
): Promise<Credentials | undefined> {
  const r = await runHelper(name, 'get', serverUrl, options);
  if (r.code !== 0) {
    const said = (r.stdout || r.stderr).trim();
    if (notFound.test(said)) return undefined;
    throw new CredentialsError(
      `credential helper docker-credential-${name} failed for ${serverUrl}: ${said || `exit ${r.code}`}`,
    );
  }
  let json: { Username?: unknown; Secret?: unknown };
  try {
    json = JSON.parse(r.stdout) as typeof json;
  } catch (e) {
    throw new CredentialsError(`credential helper docker-credential-${name} printed invalid JSON for ${serverUrl}`, {
      cause: e,
    });
  }
  const user = typeof json.Username === 'string' ? json.Username : '';
  const secret = typeof json.Secret === 'string' ? json.Secret : '';
  if (!secret) return undefined;
  if (user === '<token>') return { identityToken: secret };
  return { ...(user ? { username: user } : {}), password: secret };
}

function helperFor(config: DockerConfigFile, host: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  for (const [key, helper] of Object.entries(helpers)) {
    if (sameRegistry(key, host) && helper) return helper;
  }
  return config.credsStore || undefined;
}

/**
 * The credentials docker would use for `host`: `credHelpers[host]`, else `credsStore`, else `auths`
 * (base64 `auth` or `username`/`password`, `identitytoken`, `registrytoken`).
 *
 * @example const creds = await getCredentials('127.0.0.1:5000');
 */
export async function getCredentials(
  host: string,
  options: DockerConfigOptions = {},
): Promise<Credentials | undefined> {
  const config = await readDockerConfig(options);
  const helper = helperFor(config, host);
  if (helper) {
    const fromHelper = await helperGet(helper, credentialKey(host), options);
    if (fromHelper) return fromHelper;
  }
  const auths = config.auths ?? {};
  const exact = auths[credentialKey(host)];
  if (exact) {
    const c = decodeAuthEntry(exact, credentialKey(host));
    if (c) return c;
  }
  for (const [key, entry] of Object.entries(auths)) {
    if (sameRegistry(key, host)) {
      const c = decodeAuthEntry(entry, key);
      if (c) return c;
    }
  }
  return undefined;
}

/** A {@link CredentialProvider} reading docker's configuration on every lookup. */
export function dockerCredentials(options: DockerConfigOptions = {}): CredentialProvider {
  return (host) => getCredentials(host, options);
}

async function writeConfigAtomically(config: DockerConfigFile, options: DockerConfigOptions): Promise<void> {
  const dir = dockerConfigDir(options);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'config.json');
  const tmp = join(dir, `.config.json.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify(config, null, '\t')}\n`);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CredentialsError(`cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Stores credentials as `docker login` does: in the credential helper when one is configured for the host
 * (leaving an empty `auths` entry), else base64 in `auths` (identity tokens as `identitytoken`). The write is atomic.
 */
export async function saveCredentials(
  host: string,
  credentials: Credentials,
  options: DockerConfigOptions = {},
): Promise<void> {
  const config = await readDockerConfig(options);
  const key = credentialKey(host);
  const helper = helperFor(config, host);
  config.auths = config.auths ?? {};
  if (helper) {
    const username = credentials.identityToken ? '<token>' : (credentials.username ?? '');
    const secret = credentials.identityToken ?? credentials.password ?? '';
    const r = await runHelper(
      helper,
      'store',
      JSON.stringify({ ServerURL: key, Username: username, Secret: secret }),
      options,
    );
    if (r.code !== 0) {
      throw new CredentialsError(
        `credential helper docker-credential-${helper} could not store credentials for ${key}: ${(r.stdout || r.stderr).trim()}`,
      );
    }
    config.auths[key] = {};
  } else {
    const entry: DockerAuthEntry = {};
    if (credentials.username !== undefined || credentials.password !== undefined) {
      entry.auth = Buffer.from(`${credentials.username ?? ''}:${credentials.password ?? ''}`, 'utf8').toString(
        'base64',
      );
    }
    if (credentials.identityToken) entry.identitytoken = credentials.identityToken;
    if (credentials.registryToken) entry.registrytoken = credentials.registryToken;
    config.auths[key] = entry;
  }
  await writeConfigAtomically(config, options);
}

/** Removes the credentials of a host (`docker logout`): from the helper when one is configured, and from `auths`. True when something was removed. */
export async function removeCredentials(host: string, options: DockerConfigOptions = {}): Promise<boolean> {
  const config = await readDockerConfig(options);
  const key = credentialKey(host);
  const helper = helperFor(config, host);
  let removed = false;
  if (helper) {
    const r = await runHelper(helper, 'erase', key, options);
    if (r.code === 0) removed = true;
    else if (!notFound.test(r.stdout + r.stderr)) {
      throw new CredentialsError(
        `credential helper docker-credential-${helper} could not erase credentials for ${key}: ${(r.stdout || r.stderr).trim()}`,
      );
    }
  }
  const auths = config.auths ?? {};
  for (const k of Object.keys(auths)) {
    if (k === key || sameRegistry(k, host)) {
      delete auths[k];
      removed = true;
    }
  }
  if (removed) await writeConfigAtomically(config, options);
  return removed;
}
