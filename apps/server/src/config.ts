import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { AccessPolicy, AccessRule, Action } from './auth/access.js';
import { type Authenticator, basicAuth, htpasswdFile, tokenAuth } from './auth/authenticator.js';
import type { JwtKey } from './auth/jwt.js';
import { ConfigError } from './errors.js';
import { PullThroughCache } from './proxy.js';
import type { RegistryOptions } from './registry.js';
import type { StorageDriver } from './storage/driver.js';
import { FilesystemDriver } from './storage/filesystem.js';
import { MemoryDriver } from './storage/memory.js';
import { S3Driver } from './storage/s3.js';

/** A loaded `registry.yml`: what to pass to createRegistry and where to listen. */
export interface ServerConfig {
  readonly registry: RegistryOptions;
  readonly hostname: string;
  readonly port: number;
  readonly accessLog: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(o: Obj, key: string, where: string, required = false): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new ConfigError(`${where}.${key} is required`);
    return undefined;
  }
  if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
    throw new ConfigError(`${where}.${key} must be a string`);
  return String(v);
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * A duration setting in seconds: a Go duration as distribution's config takes it (`168h`, `1h30m`, `90s`, `500ms`)
 * or a plain number of seconds. Zero and negative values are refused.
 */
function seconds(o: Obj, key: string, where: string): number | undefined {
  const text = str(o, key, where);
  if (text === undefined) return undefined;
  let total: number;
  if (/^\d+(\.\d+)?$/.test(text)) total = Number(text);
  else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
      throw new ConfigError(`${where}.${key} "${text}" is not a duration; write it like 90s, 15m or 168h`);
    }
    total = parts.reduce((sum, p) => sum + Number(p[1]) * (DURATION_UNITS[p[2] as string] as number), 0);
  }
  if (!(total > 0)) throw new ConfigError(`${where}.${key} must be longer than zero`);
  return total;
}

/** Parses `host:port`, `:port` or `port`. */
export function parseAddr(addr: string): { hostname: string; port: number } {
  const s = addr.trim();
  const i = s.lastIndexOf(':');
  const host = i >= 0 ? s.slice(0, i) : '';
  const port = i >= 0 ? s.slice(i + 1) : s;
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw new ConfigError(`http.addr "${addr}" is not HOST:PORT`);
  return { hostname: host.replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(port) };
}

function storageFrom(storage: Obj): StorageDriver {
  if (isObj(storage.filesystem))
    return new FilesystemDriver(str(storage.filesystem, 'rootdirectory', 'storage.filesystem') ?? '/var/lib/registry');
  if ('inmemory' in storage) return new MemoryDriver();
  if (isObj(storage.s3)) {
    const s = storage.s3;
    const where = 'storage.s3';
    const endpoint = str(s, 'regionendpoint', where);
    const chunk = str(s, 'chunksize', where);
    return new S3Driver({
      bucket: str(s, 'bucket', where, true)!,
      region: str(s, 'region', where) ?? 'us-east-1',
      ...(endpoint ? { endpoint } : {}),
      accessKeyId: str(s, 'accesskey', where) ?? process.env.AWS_ACCESS_KEY_ID ?? '',
      secretAccessKey: str(s, 'secretkey', where) ?? process.env.AWS_SECRET_ACCESS_KEY ?? '',
      ...(str(s, 'sessiontoken', where) ? { sessionToken: str(s, 'sessiontoken', where)! } : {}),
      rootDirectory: str(s, 'rootdirectory', where) ?? '',
      forcePathStyle: str(s, 'forcepathstyle', where) !== 'false',
      ...(chunk ? { partSize: Number(chunk) } : {}),
    });
  }
  throw new ConfigError('storage must name one driver: filesystem, inmemory or s3');
}

function policyFrom(raw: unknown, where: string): AccessPolicy | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw)) throw new ConfigError(`${where} must be a list of {accounts, repositories, actions}`);
  return raw.map((r, i): AccessRule => {
    if (!isObj(r)) throw new ConfigError(`${where}[${i}] must be a map`);
    const list = (k: string) => {
      const v = r[k];
      const arr = Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)];
      if (arr.length === 0) throw new ConfigError(`${where}[${i}].${k} must name at least one entry`);
      return arr;
    };
    const actions = list('actions');
    for (const a of actions)
      if (!['pull', 'push', 'delete', '*'].includes(a))
        throw new ConfigError(`${where}[${i}].actions: unknown action "${a}"`);
    return { accounts: list('accounts'), repositories: list('repositories'), actions: actions as Action[] };
  });
}

function authFrom(auth: Obj): Authenticator | undefined {
  if (isObj(auth.htpasswd)) {
    const h = auth.htpasswd;
    const policy = policyFrom(h.policy, 'auth.htpasswd.policy');
    return basicAuth({
      realm: str(h, 'realm', 'auth.htpasswd') ?? 'lade-registry',
      users: htpasswdFile(str(h, 'path', 'auth.htpasswd', true)!),
      ...(policy ? { policy } : {}),
    });
  }
  if (isObj(auth.token)) {
    const t = auth.token;
    const where = 'auth.token';
    const algorithm = (str(t, 'algorithm', where) ?? (t.secret !== undefined ? 'HS256' : 'ES256')).toUpperCase();
    let key: JwtKey;
    if (algorithm === 'HS256') key = { algorithm, secret: str(t, 'secret', where, true)! };
    else if (algorithm === 'RS256' || algorithm === 'ES256') {
      const signing = str(t, 'signingkey', where);
      const bundle = str(t, 'rootcertbundle', where);
      if (!signing && !bundle)
        throw new ConfigError(`${where} needs signingkey (to issue tokens) or rootcertbundle (to verify them)`);
      key = {
        algorithm,
        ...(signing ? { privateKey: readFileSync(signing, 'utf8') } : {}),
        ...(bundle ? { publicKey: readFileSync(bundle, 'utf8') } : {}),
      };
    } else throw new ConfigError(`${where}.algorithm "${algorithm}" is not supported; use HS256, RS256 or ES256`);
    const users = str(t, 'users', where);
    const policy = policyFrom(t.policy, `${where}.policy`);
    const realm = str(t, 'realm', where);
    const expires = seconds(t, 'expiration', where);
    const refreshExpires = seconds(t, 'refreshexpiration', where);
    return tokenAuth({
      service: str(t, 'service', where) ?? 'lade-registry',
      issuer: str(t, 'issuer', where) ?? 'lade-registry',
      key,
      issue: str(t, 'issue', where) !== 'false',
      ...(realm ? { realm } : {}),
      ...(users ? { users: htpasswdFile(users) } : {}),
      ...(policy ? { policy } : {}),
      ...(expires ? { expiresIn: Math.round(expires) } : {}),
      ...(refreshExpires ? { refreshExpiresIn: Math.round(refreshExpires) } : {}),
    });
  }
  return undefined;
}

/** Turns registry.yml text into server settings. */
export function parseConfig(text: string): ServerConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`registry config is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (!isObj(doc)) throw new ConfigError('registry config must be a YAML map');
  const storage = isObj(doc.storage) ? doc.storage : { filesystem: { rootdirectory: '/var/lib/registry' } };
  const maintenance = isObj(storage.maintenance) ? storage.maintenance : {};
  const readOnly = isObj(maintenance.readonly) && maintenance.readonly.enabled === true;
  const deleteEnabled = isObj(storage.delete) ? storage.delete.enabled !== false : true;
  const http = isObj(doc.http) ? doc.http : {};
  const { hostname, port } = parseAddr(str(http, 'addr', 'http') ?? ':5000');
  const auth = isObj(doc.auth) ? authFrom(doc.auth) : undefined;
  let proxy: PullThroughCache | undefined;
  if (isObj(doc.proxy)) {
    const p = doc.proxy;
    const username = str(p, 'username', 'proxy');
    const password = str(p, 'password', 'proxy');
    const ttl = seconds(p, 'ttl', 'proxy');
    const stalled = seconds(p, 'stalledclienttimeout', 'proxy');
    proxy = new PullThroughCache({
      remoteUrl: str(p, 'remoteurl', 'proxy', true)!,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(ttl ? { tagTtlMs: ttl * 1000 } : {}),
      ...(stalled ? { stalledClientMs: stalled * 1000 } : {}),
    });
  }
  const log = isObj(doc.log) ? doc.log : {};
  const accessLog = !(isObj(log.accesslog) && log.accesslog.disabled === true);
  const limits = isObj(http.limits) ? http.limits : {};
  const maxBlob = str(limits, 'maxblobsize', 'http.limits');
  const cors =
    isObj(http.cors) && Array.isArray(http.cors.origins) ? { origins: http.cors.origins.map(String) } : undefined;
  return {
    hostname,
    port,
    accessLog,
    registry: {
      storage: storageFrom(storage),
      readOnly,
      deleteEnabled,
      ...(auth ? { auth } : {}),
      ...(proxy ? { proxy } : {}),
      ...(maxBlob ? { maxBlobSize: Number(maxBlob) } : {}),
      ...(cors ? { cors } : {}),
    },
  };
}

/** Reads and parses a registry.yml file. */
export function loadConfig(path: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read registry config ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(text);
}
