/** The host that serves the registry API for the `docker.io` domain. */
export const DOCKER_HUB_REGISTRY = 'registry-1.docker.io';
/** The key docker stores Docker Hub credentials under. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

const hubNames = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** True for the names of Docker Hub (`docker.io`, `index.docker.io`, `registry-1.docker.io`). */
export function isDockerHub(host: string): boolean {
  return hubNames.has(host.toLowerCase());
}

/** The host to send API requests to for a reference's domain: `docker.io` → `registry-1.docker.io`. */
export function registryEndpoint(domain: string): string {
  return isDockerHub(domain) ? DOCKER_HUB_REGISTRY : domain;
}

/** The hostname part of `host[:port]` (IPv6 in brackets kept without them). */
export function hostname(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(1, end) : host;
  }
  const colon = host.lastIndexOf(':');
  // `::1` without brackets is an IPv6 address, not host:port.
  if (colon > 0 && host.indexOf(':') === colon) return host.slice(0, colon);
  return host;
}

/** True for loopback hosts (`localhost`, 127.0.0.0/8, `::1`), which may be spoken to over plain http. */
export function isLoopback(host: string): boolean {
  const h = hostname(host).toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * True when `host` matches an insecure-registry entry: an exact `host[:port]`, a bare hostname (any port),
 * or a CIDR such as `10.0.0.0/8` for IPv4 hosts.
 */
export function matchesInsecure(host: string, entries: readonly string[]): boolean {
  const h = hostname(host).toLowerCase();
  for (const raw of entries) {
    const e = raw
      .toLowerCase()
      .replace(/^[a-z]+:\/\//, '')
      .replace(/\/+$/, '');
    if (e === host.toLowerCase() || e === h) return true;
    const cidr = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(e);
    if (cidr && /^\d{1,3}(\.\d{1,3}){3}$/.test(h)) {
      const bits = Number(cidr[2]);
      const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
      if ((ipv4(h) & mask) >>> 0 === (ipv4(cidr[1]!) & mask) >>> 0) return true;
    }
  }
  return false;
}

function ipv4(a: string): number {
  return a.split('.').reduce((acc, p) => ((acc << 8) | (Number(p) & 255)) >>> 0, 0);
}
