// Platforms as containerd's `platforms` package treats them: specifiers, normalization, compatible matching.
import { NoMatchingManifestError, PlatformInvalidError } from './errors.js';
import type { Descriptor, Platform } from './transport.js';
import type { ImageIndex } from './types.js';

type MutablePlatform = { -readonly [K in keyof Platform]: Platform[K] };

const knownOS: ReadonlySet<string> = new Set([
  'aix',
  'android',
  'darwin',
  'dragonfly',
  'freebsd',
  'hurd',
  'illumos',
  'ios',
  'js',
  'linux',
  'nacl',
  'netbsd',
  'openbsd',
  'plan9',
  'solaris',
  'wasip1',
  'windows',
  'zos',
]);

const knownArch: ReadonlySet<string> = new Set([
  '386',
  'amd64',
  'amd64p32',
  'arm',
  'armbe',
  'arm64',
  'arm64be',
  'ppc64',
  'ppc64le',
  'loong64',
  'mips',
  'mipsle',
  'mips64',
  'mips64le',
  'mips64p32',
  'mips64p32le',
  'ppc',
  'riscv',
  'riscv64',
  's390',
  's390x',
  'sparc',
  'sparc64',
  'wasm',
]);

function normalizeOS(os: string): string {
  const o = os.toLowerCase();
  return o === 'macos' ? 'darwin' : o;
}

/** Normalizes an architecture and variant; arm64 gets `v8` and arm `v7` when no variant is given (docker's display form). */
function normalizeArch(architecture: string, variant: string): { architecture: string; variant: string } {
  let arch = architecture.toLowerCase();
  let v = variant.toLowerCase();
  switch (arch) {
    case 'i386':
    case 'i686':
    case '386':
      arch = '386';
      v = '';
      break;
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      arch = 'amd64';
      if (v === 'v1' || v === '1') v = '';
      else if (/^\d+$/.test(v)) v = `v${v}`;
      break;
    case 'aarch64':
    case 'arm64':
      arch = 'arm64';
      if (v === '' || v === '8' || v === 'v8' || v === 'v8.0' || v === '8.0') v = 'v8';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      else if (/^\d+(\.\d+)?$/.test(v)) v = `v${v}`;
      break;
    case 'armhf':
      arch = 'arm';
      v = 'v7';
      break;
    case 'armel':
      arch = 'arm';
      v = 'v6';
      break;
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (/^\d+$/.test(v)) v = `v${v}`;
      break;
  }
  return { architecture: arch, variant: v };
}

/**
 * The canonical form of a platform: os lower-case (`macos` → `darwin`); `aarch64` → `arm64`, `x86_64`/`x86-64` → `amd64`,
 * `i386` → `386`, `armhf` → `arm/v7`, `armel` → `arm/v6`; arm64 without a variant → `v8` (`8`, `v8.0` too),
 * arm without one → `v7`, amd64 `v1` → none. Other fields are kept.
 */
export function normalizePlatform(platform: Platform): Platform {
  const { architecture, variant } = normalizeArch(platform.architecture, platform.variant ?? '');
  const out: MutablePlatform = { ...platform, os: normalizeOS(platform.os), architecture };
  if (variant === '') delete out.variant;
  else out.variant = variant;
  return Object.freeze(out);
}

const componentPattern = /^[A-Za-z0-9_.-]+$/;
const osAndVersionPattern = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%+-]*)\))?$/;

function decodePercent(s: string, specifier: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new PlatformInvalidError(`invalid platform "${specifier}": bad %-escape in "${s}"`);
  }
}

/**
 * Parses a platform specifier `os[(os.version[+feature…])][/arch[/variant]]` or a lone `arch` (containerd's syntax)
 * into a normalized platform. A lone os takes the host's architecture; a lone architecture takes the host's os.
 *
 * @example parsePlatform('linux/arm64') // { os: 'linux', architecture: 'arm64', variant: 'v8' }
 * @throws PlatformInvalidError (PLATFORM_INVALID)
 */
export function parsePlatform(specifier: string): Platform {
  const bad = (why: string): never => {
    throw new PlatformInvalidError(
      `invalid platform "${specifier}": ${why}; expected os/arch[/variant], e.g. linux/arm64/v8`,
    );
  };
  if (typeof specifier !== 'string' || specifier === '') bad('empty');
  if (specifier.includes('*')) bad('wildcards are not supported');
  const parts = specifier.split('/');
  if (parts.length > 3) bad('too many components');
  const m = osAndVersionPattern.exec(parts[0]!);
  if (!m) bad(`"${parts[0]}" is not a valid os`);
  for (const part of parts.slice(1)) if (!componentPattern.test(part)) bad(`"${part}" is not a valid component`);
  const out: MutablePlatform = { os: normalizeOS(m![1]!), architecture: '' };
  if (m![2] !== undefined && m![2] !== '') {
    const [version, ...features] = m![2].split('+');
    if (version) out['os.version'] = decodePercent(version, specifier);
    const feats = features.filter((f) => f !== '').map((f) => decodePercent(f, specifier));
    if (feats.length > 0) out['os.features'] = feats;
  }
  if (parts.length === 1) {
    if (knownOS.has(out.os) || m![2] !== undefined) {
      const host = hostPlatform();
      return normalizePlatform({
        ...out,
        architecture: host.architecture,
        ...(host.variant ? { variant: host.variant } : {}),
      });
    }
    const { architecture, variant } = normalizeArch(parts[0]!, '');
    if (!knownArch.has(architecture)) bad('unknown operating system or architecture');
    return normalizePlatform({ os: hostPlatform().os, architecture, ...(variant ? { variant } : {}) });
  }
  out.architecture = parts[1]!;
  if (parts.length === 3) out.variant = parts[2]!;
  return normalizePlatform(out);
}

/** Options of {@link formatPlatform}. */
export interface FormatPlatformOptions {
  /** Include `(os.version+features)` after the os, as containerd's FormatAll does. */
  readonly osVersion?: boolean;
}

function encodeOsPart(s: string): string {
  return s.replace(/[%+()/]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * Formats a platform as `os/arch[/variant]` (as given: normalize first for docker's form, e.g. `linux/arm64/v8`).
 * @example formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }) // 'linux/arm/v7'
 */
export function formatPlatform(platform: Platform, options: FormatPlatformOptions = {}): string {
  if (!platform.os) return 'unknown';
  let os = platform.os;
  if (options.osVersion) {
    const features = (platform['os.features'] ?? []).filter((f) => f !== '');
    if (platform['os.version'] || features.length > 0) {
      os += `(${encodeOsPart(platform['os.version'] ?? '')}${[...features]
        .sort()
        .map((f) => `+${encodeOsPart(f)}`)
        .join('')})`;
    }
  }
  return [os, platform.architecture, platform.variant].filter((p) => p !== undefined && p !== '').join('/');
}

/**
 * True when `have` is exactly the platform `want` names, after normalization (containerd's OnlyStrict):
 * `linux/arm64` ≡ `linux/aarch64` ≡ `linux/arm64/v8`, `linux/arm` ≡ `linux/arm/v7` ≡ `linux/armhf`.
 * When both name an `os.version`, they must agree too.
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture || (w.variant ?? '') !== (h.variant ?? '')) return false;
  if (w['os.version'] && h['os.version'] && w.os === 'windows') {
    // Windows images run only on the same build (major.minor.build).
    return w['os.version'].split('.').slice(0, 3).join('.') === h['os.version'].split('.').slice(0, 3).join('.');
  }
  return true;
}

const arm64Minors: Readonly<Record<string, readonly [major: number, minor: number][]>> = (() => {
  const table: Record<string, [number, number][]> = {};
  for (let minor = 0; minor <= 9; minor++) table[minor === 0 ? 'v8' : `v8.${minor}`] = [[8, minor]];
  // arm64 v9.x also runs v8.(x+5) code, as containerd's table says.
  for (let minor = 0; minor <= 7; minor++)
    table[minor === 0 ? 'v9' : `v9.${minor}`] = [
      [9, minor],
      [8, Math.min(minor + 5, 9)],
    ];
  return table;
})();

/**
 * The platforms that can run on `platform`, best first (containerd's `platforms.Only`): the platform itself, then
 * older variants (`arm/v7` → v6, v5; `amd64/v3` → v2, v1), `amd64` → `386`, `arm64` → its older variants, then 32-bit arm.
 */
export function compatiblePlatforms(platform: Platform): Platform[] {
  const p = normalizePlatform(platform);
  const base = { os: p.os, ...(p['os.version'] ? { 'os.version': p['os.version'] } : {}) };
  const out: Platform[] = [p];
  const version = Number.parseInt((p.variant ?? '').replace(/^v/, ''), 10);
  switch (p.architecture) {
    case 'amd64':
      if (Number.isInteger(version) && version > 1) {
        for (let v = version - 1; v >= 1; v--)
          out.push(normalizePlatform({ ...base, architecture: 'amd64', variant: `v${v}` }));
      }
      out.push({ ...base, architecture: '386' });
      break;
    case 'arm':
      if (Number.isInteger(version) && version > 5) {
        for (let v = version - 1; v >= 5; v--) out.push({ ...base, architecture: 'arm', variant: `v${v}` });
      }
      break;
    case 'arm64': {
      const variant = p.variant ?? 'v8';
      const versions = arm64Minors[variant];
      if (versions) {
        out.length = 0;
        for (const [major, minor] of versions) {
          for (let m = minor; m >= 0; m--)
            out.push({ ...base, architecture: 'arm64', variant: m === 0 ? `v${major}` : `v${major}.${m}` });
        }
      }
      if (variant.startsWith('v8') || variant.startsWith('v9'))
        out.push(...compatiblePlatforms({ ...base, architecture: 'arm', variant: 'v8' }));
      break;
    }
  }
  return out;
}

/**
 * True when an image built for `have` runs on `want` (containerd's `platforms.Only`): an exact match or one of
 * {@link compatiblePlatforms}.
 */
export function platformCompatible(want: Platform, have: Platform): boolean {
  return compatiblePlatforms(want).some((c) => platformMatches(c, have));
}

/** Options of {@link selectManifest}. */
export interface SelectManifestOptions {
  /** Only an exact platform match counts (no `386` for `amd64`, no `arm/v6` for `arm/v7`). Default false. */
  readonly strict?: boolean;
}

/**
 * Picks the best entry of an index for a platform: an exact match first, then the most capable compatible one
 * ({@link compatiblePlatforms}); among equals, the first in the index. Entries without a platform never match.
 *
 * @throws NoMatchingManifestError (MANIFEST_UNKNOWN), with docker's message
 *   `no matching manifest for linux/arm64/v8 in the manifest list entries`.
 */
export function selectManifest(
  index: Pick<ImageIndex, 'manifests'>,
  platform: Platform,
  options: SelectManifestOptions = {},
): Descriptor {
  const candidates = options.strict ? [normalizePlatform(platform)] : compatiblePlatforms(platform);
  for (const want of candidates) {
    const found = index.manifests.find((d) => d.platform !== undefined && platformMatches(want, d.platform));
    if (found) return found;
  }
  const available = index.manifests
    .filter((d) => d.platform)
    .map((d) => formatPlatform(normalizePlatform(d.platform!)));
  throw new NoMatchingManifestError(formatPlatform(normalizePlatform(platform)), available);
}

type NodeProcessLike = {
  arch?: string;
  platform?: string;
  config?: { variables?: Record<string, unknown> };
  endianness?: string;
};

/**
 * The platform images are chosen for on this machine: `linux` (containers run in a Linux VM on macOS, as with Docker
 * Desktop) or `windows` on Windows, with the CPU architecture of this process (`arm` with its `v6`/`v7` variant).
 */
export function hostPlatform(): Platform {
  const proc = (globalThis as { process?: NodeProcessLike }).process;
  const os = proc?.platform === 'win32' ? 'windows' : 'linux';
  switch (proc?.arch) {
    case 'x64':
      return normalizePlatform({ os, architecture: 'amd64' });
    case 'arm64':
      return normalizePlatform({ os, architecture: 'arm64' });
    case 'arm': {
      const v = proc.config?.variables?.arm_version;
      return normalizePlatform({
        os,
        architecture: 'arm',
        variant: typeof v === 'string' || typeof v === 'number' ? `v${v}` : 'v7',
      });
    }
    case 'ia32':
      return normalizePlatform({ os, architecture: '386' });
    case 'ppc64':
      return normalizePlatform({ os, architecture: 'ppc64le' });
    case undefined:
      return normalizePlatform({ os, architecture: 'amd64' });
    default:
      return normalizePlatform({ os, architecture: proc?.arch ?? 'amd64' });
  }
}
