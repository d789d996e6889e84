import { RegistryUsageError } from './errors.js';
import { isDockerHub, isLoopback, matchesInsecure } from './hosts.js';
import { Registry, type RegistryOptions } from './registry.js';

/** Options shared by every registry a client talks to. */
export interface RegistryClientOptions extends Omit<RegistryOptions, 'insecure' | 'scheme' | 'transport'> {
  /** Hosts (`host[:port]`, a bare hostname, or an IPv4 CIDR) that may use plain http or unverified TLS. */
  readonly insecureRegistries?: readonly string[];
  /**
   * Mirrors of Docker Hub (`https://mirror.example.com`, `http://127.0.0.1:5001`), tried in order before
   * `registry-1.docker.io` for pulls; a mirror that fails or lacks the image falls through to the next.
   */
  readonly mirrors?: readonly string[];
}

/** A mirror endpoint: its host and the scheme its URL names. */
export interface MirrorEndpoint {
  readonly host: string;
  readonly scheme: 'https' | 'http';
}

/** Parses a mirror URL (`https://host[:port]`, or a bare host meaning https). */
export function parseMirror(url: string): MirrorEndpoint {
  const m = /^(?:(https?):\/\/)?([^/\s]+)\/?$/.exec(url.trim());
  if (!m)
    throw new RegistryUsageError('NAME_INVALID', `invalid registry mirror "${url}": expected https://host[:port]`);
  return { scheme: (m[1] as 'https' | 'http' | undefined) ?? 'https', host: m[2]! };
}

/**
 * Keeps one {@link Registry} (one connection pool, one token cache) per host, with shared options, the
 * insecure-registry list and Docker Hub mirrors.
 *
 * @example
 * const client = new RegistryClient({ insecureRegistries: ['10.0.0.5:5000'] });
 * const tags = await client.registry('10.0.0.5:5000').listTags('team/app');
 * await client.close();
 */
export class RegistryClient {
  readonly options: RegistryClientOptions;
  readonly #registries = new Map<string, Registry>();

  constructor(options: RegistryClientOptions = {}) {
    this.options = options;
    for (const m of options.mirrors ?? []) parseMirror(m);
  }

  /** True when `host` may use plain http: loopback, or listed in `insecureRegistries`. */
  isInsecure(host: string): boolean {
    return isLoopback(host) || matchesInsecure(host, this.options.insecureRegistries ?? []);
  }

  /** The registry of a host (`docker.io` is served by `registry-1.docker.io`). */
  registry(host: string, scheme?: 'https' | 'http'): Registry {
    const key = `${scheme ?? ''}|${isDockerHub(host) ? 'docker.io' : host}`;
    let r = this.#registries.get(key);
    if (!r) {
      const { insecureRegistries: _i, mirrors: _m, ...rest } = this.options;
      r = new Registry(host, { ...rest, insecure: this.isInsecure(host), ...(scheme ? { scheme } : {}) });
      this.#registries.set(key, r);
    }
    return r;
  }

  /** The registries to pull `host`'s images from, in order: Docker Hub's mirrors, then the host itself. */
  pullEndpoints(host: string): Registry[] {
    const out: Registry[] = [];
    if (isDockerHub(host)) {
      for (const url of this.options.mirrors ?? []) {
        const m = parseMirror(url);
        if (m.scheme === 'http' && !this.isInsecure(m.host)) {
          throw new RegistryUsageError(
            'INSECURE_REFUSED',
            `refusing the http mirror ${url}: only loopback hosts or insecure registries may use http; add ${m.host} to the insecure registries`,
          );
        }
        out.push(this.registry(m.host, m.scheme));
      }
    }
    out.push(this.registry(host));
    return out;
  }

  /** Closes every connection pool. */
  async close(): Promise<void> {
    const all = [...this.#registries.values()];
    this.#registries.clear();
    await Promise.all(all.map((r) => r.close()));
  }
}
