import { hash } from '@lade/digest';
import { describe, expect, it } from 'vitest';
import {
  compatiblePlatforms,
  formatPlatform,
  hostPlatform,
  MediaType,
  NoMatchingManifestError,
  normalizePlatform,
  type Platform,
  parsePlatform,
  platformCompatible,
  platformMatches,
  selectManifest,
} from '../src/index.js';

const host = hostPlatform();

describe('parsePlatform (vectors from containerd platforms_test.go, with arm64 → v8 / arm → v7 filled in)', () => {
  const vectors: [input: string, expected: string][] = [
    ['linux/arm64', 'linux/arm64/v8'],
    ['linux/arm64/v8', 'linux/arm64/v8'],
    ['linux/aarch64', 'linux/arm64/v8'],
    ['linux/aarch64/v8', 'linux/arm64/v8'],
    ['linux/arm64/8', 'linux/arm64/v8'],
    ['linux/arm64/v8.0', 'linux/arm64/v8'],
    ['linux/arm64/v8.2', 'linux/arm64/v8.2'],
    ['linux/arm64/9', 'linux/arm64/v9'],
    ['linux/arm64/v9.0', 'linux/arm64/v9'],
    ['linux/arm', 'linux/arm/v7'],
    ['linux/arm/7', 'linux/arm/v7'],
    ['linux/arm/v6', 'linux/arm/v6'],
    ['linux/arm/6', 'linux/arm/v6'],
    ['linux/arm/5', 'linux/arm/v5'],
    ['linux/arm/v7', 'linux/arm/v7'],
    ['linux/armhf', 'linux/arm/v7'],
    ['linux/armel', 'linux/arm/v6'],
    ['Linux/x86_64', 'linux/amd64'],
    ['linux/x86-64', 'linux/amd64'],
    ['linux/amd64/v1', 'linux/amd64'],
    ['linux/amd64/v3', 'linux/amd64/v3'],
    ['linux/i386', 'linux/386'],
    ['linux/386', 'linux/386'],
    ['linux/s390x', 'linux/s390x'],
    ['linux/ppc64le', 'linux/ppc64le'],
    ['linux/riscv64', 'linux/riscv64'],
    ['windows/amd64', 'windows/amd64'],
    ['darwin/arm64', 'darwin/arm64/v8'],
    ['macOS/arm64', 'darwin/arm64/v8'],
    ['LINUX/AMD64', 'linux/amd64'],
    ['arm', `${host.os}/arm/v7`],
    ['armel', `${host.os}/arm/v6`],
    ['armhf', `${host.os}/arm/v7`],
    ['Aarch64', `${host.os}/arm64/v8`],
    ['x86_64', `${host.os}/amd64`],
    ['i386', `${host.os}/386`],
    ['s390x', `${host.os}/s390x`],
    ['linux', formatPlatform({ ...host, os: 'linux' })],
    ['windows', formatPlatform({ ...host, os: 'windows' })],
  ];
  for (const [input, expected] of vectors) {
    it(`${input} → ${expected}`, () => {
      const p = parsePlatform(input);
      expect(formatPlatform(p)).toBe(expected);
      // Formatting and parsing again is stable.
      expect(formatPlatform(parsePlatform(formatPlatform(p)))).toBe(expected);
    });
  }

  it('reads os.version and os.features from os(version+feature)', () => {
    const p = parsePlatform('windows(10.0.17763+win32k)/amd64');
    expect(p).toEqual({ os: 'windows', 'os.version': '10.0.17763', 'os.features': ['win32k'], architecture: 'amd64' });
    expect(parsePlatform('windows(10.0.17763%2Bbuild.42)/amd64')['os.version']).toBe('10.0.17763+build.42');
    expect(parsePlatform('linux(+gpu+simd)/amd64')['os.features']).toEqual(['gpu', 'simd']);
    expect(parsePlatform('windows()/amd64')['os.version']).toBeUndefined();
  });

  it('formats os.version when asked, %-encoding what the syntax reserves (containerd FormatAll)', () => {
    expect(
      formatPlatform(
        { os: 'windows', 'os.version': '10.0.17763+build.42', architecture: 'amd64' },
        { osVersion: true },
      ),
    ).toBe('windows(10.0.17763%2Bbuild.42)/amd64');
    expect(formatPlatform({ os: 'windows', 'os.version': '50%done', architecture: 'amd64' }, { osVersion: true })).toBe(
      'windows(50%25done)/amd64',
    );
    expect(formatPlatform({ os: 'windows', 'os.version': 'a/b', architecture: 'amd64' }, { osVersion: true })).toBe(
      'windows(a%2Fb)/amd64',
    );
    expect(
      formatPlatform({ os: 'linux', 'os.features': ['unsorted', 'erofs'], architecture: 'amd64' }, { osVersion: true }),
    ).toBe('linux(+erofs+unsorted)/amd64');
    expect(
      formatPlatform(
        { os: 'linux', 'os.features': ['', 'gpu', '', 'simd'], architecture: 'amd64' },
        { osVersion: true },
      ),
    ).toBe('linux(+gpu+simd)/amd64');
    expect(formatPlatform({ os: 'windows', 'os.version': '10.0.17763', architecture: 'amd64' })).toBe('windows/amd64');
    expect(formatPlatform({ os: '', architecture: 'amd64' })).toBe('unknown');
  });

  const invalid: [string, string][] = [
    ['', 'empty'],
    ['/linux/arm', 'is not a valid os'],
    ['linux/arm/', 'is not a valid component'],
    ['linux /arm', 'is not a valid os'],
    ['linux/&arm', '"&arm" is not a valid component'],
    ['linux/arm/foo/bar', 'too many components'],
    ['*', 'wildcards'],
    ['linux/*', 'wildcards'],
    ['nonsense', 'unknown operating system or architecture'],
  ];
  for (const [input, message] of invalid) {
    it(`rejects "${input}" with PLATFORM_INVALID`, () => {
      let err: unknown;
      try {
        parsePlatform(input);
      } catch (e) {
        err = e;
      }
      expect((err as { code: string }).code).toBe('PLATFORM_INVALID');
      expect((err as Error).message).toContain(message);
      expect((err as Error).message).toContain(`invalid platform "${input}"`);
    });
  }
});

describe('normalizePlatform', () => {
  const table: [Platform, Platform][] = [
    [
      { os: 'linux', architecture: 'aarch64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    [
      { os: 'linux', architecture: 'arm64', variant: '8' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    [
      { os: 'linux', architecture: 'x86_64' },
      { os: 'linux', architecture: 'amd64' },
    ],
    [
      { os: 'linux', architecture: 'x86-64', variant: 'v1' },
      { os: 'linux', architecture: 'amd64' },
    ],
    [
      { os: 'linux', architecture: 'armhf' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ],
    [
      { os: 'linux', architecture: 'armel' },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
    ],
    [
      { os: 'linux', architecture: 'arm' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ],
    [
      { os: 'linux', architecture: 'i386', variant: 'x' },
      { os: 'linux', architecture: '386' },
    ],
    [
      { os: 'Linux', architecture: 'AMD64' },
      { os: 'linux', architecture: 'amd64' },
    ],
    [
      { os: 'macos', architecture: 'arm64' },
      { os: 'darwin', architecture: 'arm64', variant: 'v8' },
    ],
  ];
  for (const [input, expected] of table) {
    it(`${JSON.stringify(input)} → ${formatPlatform(expected)}`, () => {
      expect(normalizePlatform(input)).toEqual(expected);
    });
  }

  it('keeps os.version and features', () => {
    expect(normalizePlatform({ os: 'Windows', architecture: 'x86_64', 'os.version': '10.0.1' })).toEqual({
      os: 'windows',
      architecture: 'amd64',
      'os.version': '10.0.1',
    });
  });
});

describe('platformMatches (containerd OnlyStrict) and platformCompatible (containerd Only)', () => {
  // containerd compare_test.go TestOnly: want → [matching, not matching]
  const only: [string, string[], string[]][] = [
    [
      'linux/amd64',
      ['linux/amd64', 'linux/386'],
      ['linux/amd64/v2', 'linux/arm/v7', 'linux/arm64', 'windows/amd64', 'windows/arm'],
    ],
    [
      'linux/amd64/v2',
      ['linux/amd64', 'linux/amd64/v1', 'linux/amd64/v2', 'linux/386'],
      ['linux/amd64/v3', 'linux/amd64/v4', 'linux/arm/v7', 'linux/arm64', 'windows/amd64', 'windows/arm'],
    ],
    ['linux/386', ['linux/386'], ['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/amd64', 'windows/arm']],
    [
      'windows/amd64',
      ['windows/amd64', 'windows(10.0.17763)/amd64'],
      ['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/arm'],
    ],
    [
      'linux/arm/v8',
      ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm/v8'],
      ['linux/amd64', 'linux/arm/v4', 'linux/arm64', 'windows/amd64', 'windows/arm'],
    ],
    [
      'linux/arm/v7',
      ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7'],
      ['linux/amd64', 'linux/arm/v4', 'linux/arm/v8', 'linux/arm64', 'windows/amd64', 'windows/arm'],
    ],
    [
      'linux/arm/v6',
      ['linux/arm/v5', 'linux/arm/v6'],
      [
        'linux/amd64',
        'linux/arm',
        'linux/arm/v4',
        'linux/arm/v7',
        'linux/arm/v8',
        'linux/arm64',
        'windows/amd64',
        'windows/arm',
      ],
    ],
    [
      'linux/arm/v5',
      ['linux/arm/v5'],
      ['linux/amd64', 'linux/arm', 'linux/arm/v4', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm/v8', 'linux/arm64'],
    ],
    [
      'linux/arm/v4',
      ['linux/arm/v4'],
      ['linux/amd64', 'linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm/v8', 'linux/arm64'],
    ],
    [
      'linux/arm64/v9',
      [
        'linux/arm',
        'linux/arm/v5',
        'linux/arm/v6',
        'linux/arm/v7',
        'linux/arm/v8',
        'linux/arm64',
        'linux/arm64/v8',
        'linux/arm64/v8.1',
        'linux/arm64/v8.2',
        'linux/arm64/v8.3',
        'linux/arm64/v8.4',
        'linux/arm64/v8.5',
        'linux/arm64/v9',
        'linux/arm64/v9.0',
      ],
      ['linux/amd64', 'linux/arm/v4', 'windows/amd64', 'windows/arm', 'linux/arm64/v8.6'],
    ],
    [
      'linux/arm64/v8.1',
      [
        'linux/arm',
        'linux/arm/v5',
        'linux/arm/v6',
        'linux/arm/v7',
        'linux/arm/v8',
        'linux/arm64',
        'linux/arm64/v8',
        'linux/arm64/v8.1',
      ],
      ['linux/amd64', 'linux/arm/v4', 'linux/arm/v9', 'linux/arm64/v9', 'windows/amd64', 'windows/arm'],
    ],
    [
      'linux/arm64',
      ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/arm/v8', 'linux/arm64', 'linux/arm64/v8'],
      ['linux/amd64', 'linux/arm/v4', 'linux/arm/v9', 'linux/arm64/v9', 'windows/amd64', 'windows/arm'],
    ],
  ];
  for (const [want, yes, no] of only) {
    it(`platformCompatible(${want}) accepts ${yes.length} and refuses ${no.length}`, () => {
      const w = parsePlatform(want);
      for (const h of yes) expect(platformCompatible(w, parsePlatform(h)), `${want} runs ${h}`).toBe(true);
      for (const h of no) expect(platformCompatible(w, parsePlatform(h)), `${want} does not run ${h}`).toBe(false);
    });
  }

  // containerd compare_test.go TestOnlyStrict
  const strict: [string, string[], string[]][] = [
    ['linux/amd64', ['linux/amd64'], ['linux/386', 'linux/arm/v7', 'linux/arm64', 'windows/amd64', 'windows/arm']],
    ['linux/386', ['linux/386'], ['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/amd64']],
    [
      'windows/amd64',
      ['windows/amd64', 'windows(10.0.17763)/amd64'],
      ['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/arm'],
    ],
    [
      'windows(10.0.17763)/amd64',
      ['windows/amd64', 'windows(10.0.17763)/amd64'],
      ['linux/amd64', 'linux/arm/v7', 'linux/arm64', 'windows/arm'],
    ],
    [
      'linux/arm/v8',
      ['linux/arm/v8'],
      ['linux/arm', 'linux/arm/v5', 'linux/arm/v6', 'linux/arm/v7', 'linux/amd64', 'linux/arm/v4', 'linux/arm64'],
    ],
    [
      'linux/arm/v7',
      ['linux/arm', 'linux/arm/v7'],
      ['linux/arm/v5', 'linux/arm/v6', 'linux/amd64', 'linux/arm/v4', 'linux/arm/v8', 'linux/arm64'],
    ],
    [
      'linux/arm/v6',
      ['linux/arm/v6'],
      ['linux/arm/v5', 'linux/amd64', 'linux/arm', 'linux/arm/v4', 'linux/arm/v7', 'linux/arm/v8', 'linux/arm64'],
    ],
    [
      'linux/arm64/v9',
      ['linux/arm64/v9', 'linux/arm64/v9.0'],
      ['linux/arm', 'linux/arm/v8', 'linux/amd64', 'linux/arm/v9', 'linux/arm64/v8', 'linux/arm64/v8.1'],
    ],
    [
      'linux/arm64/v8.1',
      ['linux/arm64/v8.1'],
      ['linux/arm', 'linux/arm/v8', 'linux/amd64', 'linux/arm64/v8', 'linux/arm64/v9'],
    ],
    [
      'linux/arm64',
      ['linux/arm64', 'linux/arm64/v8'],
      ['linux/arm', 'linux/arm/v7', 'linux/arm/v8', 'linux/amd64', 'linux/arm64/v9'],
    ],
  ];
  for (const [want, yes, no] of strict) {
    it(`platformMatches(${want}) matches ${yes.length} exactly and refuses ${no.length}`, () => {
      const w = parsePlatform(want);
      for (const h of yes) expect(platformMatches(w, parsePlatform(h)), `${want} is ${h}`).toBe(true);
      for (const h of no) expect(platformMatches(w, parsePlatform(h)), `${want} is not ${h}`).toBe(false);
    });
  }

  it('matches un-normalized descriptors (arm64 with no variant is v8; aarch64 is arm64)', () => {
    expect(
      platformMatches({ os: 'linux', architecture: 'arm64', variant: 'v8' }, { os: 'linux', architecture: 'aarch64' }),
    ).toBe(true);
    expect(platformMatches({ os: 'linux', architecture: 'arm' }, { os: 'linux', architecture: 'armhf' })).toBe(true);
    expect(
      platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, { os: 'linux', architecture: 'armel' }),
    ).toBe(true);
  });

  it('keeps Windows builds apart when both name an os.version', () => {
    expect(
      platformMatches(
        { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1234' },
        { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.999' },
      ),
    ).toBe(true);
    expect(
      platformMatches(
        { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' },
        { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' },
      ),
    ).toBe(false);
  });

  it('orders compatible platforms best first', () => {
    expect(compatiblePlatforms(parsePlatform('linux/arm64')).map((p) => formatPlatform(p))).toEqual([
      'linux/arm64/v8',
      'linux/arm/v8',
      'linux/arm/v7',
      'linux/arm/v6',
      'linux/arm/v5',
    ]);
    expect(compatiblePlatforms(parsePlatform('linux/amd64/v3')).map((p) => formatPlatform(p))).toEqual([
      'linux/amd64/v3',
      'linux/amd64/v2',
      'linux/amd64',
      'linux/386',
    ]);
  });
});

describe('selectManifest', () => {
  const entry = (platform: Platform | undefined, n: number) => ({
    mediaType: MediaType.OCI_MANIFEST,
    digest: hash(String(n)),
    size: n,
    ...(platform ? { platform } : {}),
  });
  const index = {
    manifests: [
      entry({ os: 'linux', architecture: 'amd64' }, 1),
      entry({ os: 'linux', architecture: 'arm', variant: 'v6' }, 2),
      entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, 3),
      entry({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 4),
      entry({ os: 'linux', architecture: '386' }, 5),
      entry({ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }, 6),
      entry(undefined, 7),
      entry({ os: 'unknown', architecture: 'unknown' }, 8),
    ],
  };

  it('picks the exact platform', () => {
    expect(selectManifest(index, parsePlatform('linux/arm64')).size).toBe(4);
    expect(selectManifest(index, parsePlatform('linux/aarch64')).size).toBe(4);
    expect(selectManifest(index, parsePlatform('linux/arm/v7')).size).toBe(3);
    expect(selectManifest(index, parsePlatform('linux/armhf')).size).toBe(3);
    expect(selectManifest(index, parsePlatform('linux/armel')).size).toBe(2);
    expect(selectManifest(index, parsePlatform('linux/386')).size).toBe(5);
    expect(selectManifest(index, parsePlatform('windows/amd64')).size).toBe(6);
  });

  it('falls back to the best compatible platform, unless strict', () => {
    const only386 = { manifests: [entry({ os: 'linux', architecture: '386' }, 5)] };
    expect(selectManifest(only386, parsePlatform('linux/amd64')).size).toBe(5);
    expect(() => selectManifest(only386, parsePlatform('linux/amd64'), { strict: true })).toThrow(
      NoMatchingManifestError,
    );
    const armOnly = {
      manifests: [
        entry({ os: 'linux', architecture: 'arm', variant: 'v6' }, 2),
        entry({ os: 'linux', architecture: 'arm', variant: 'v7' }, 3),
      ],
    };
    expect(selectManifest(armOnly, parsePlatform('linux/arm64')).size).toBe(3);
  });

  it('prefers the first of equal entries', () => {
    const twice = {
      manifests: [entry({ os: 'linux', architecture: 'amd64' }, 10), entry({ os: 'linux', architecture: 'amd64' }, 11)],
    };
    expect(selectManifest(twice, parsePlatform('linux/amd64')).size).toBe(10);
  });

  it("throws docker's message with MANIFEST_UNKNOWN when nothing matches", () => {
    const amd = { manifests: [entry({ os: 'linux', architecture: 'amd64' }, 1)] };
    let err: unknown;
    try {
      selectManifest(amd, parsePlatform('linux/arm64'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoMatchingManifestError);
    expect((err as Error).message).toBe('no matching manifest for linux/arm64/v8 in the manifest list entries');
    expect((err as NoMatchingManifestError).code).toBe('MANIFEST_UNKNOWN');
    expect((err as NoMatchingManifestError).available).toEqual(['linux/amd64']);
    expect(() => selectManifest({ manifests: [] }, parsePlatform('linux/amd64'))).toThrow(
      'no matching manifest for linux/amd64 in the manifest list entries',
    );
  });
});

describe('hostPlatform', () => {
  it('names this machine in normalized form', () => {
    const h = hostPlatform();
    expect(['linux', 'windows']).toContain(h.os);
    const expected: Record<string, string> = { x64: 'amd64', arm64: 'arm64', ia32: '386', arm: 'arm', s390x: 's390x' };
    if (expected[process.arch]) expect(h.architecture).toBe(expected[process.arch]);
    expect(normalizePlatform(h)).toEqual(h);
  });
});
