import { describe, expect, it } from 'vitest';
import {
  anchoredDomainRegexp,
  anchoredIdentifierRegexp,
  anchoredNameRegexp,
  anchoredTagRegexp,
  digestProblem,
  isValidDomain,
  isValidPath,
  isValidReferenceDigest,
  isValidTag,
  referenceRegexp,
} from '../src/index.js';
import { domainVectors, fullNameVectors, identifierVectors, referenceRegexpVectors } from './vectors.js';

describe('domain grammar (host, port, IPv6)', () => {
  it.each(domainVectors)('%s matches: %s', (input, match) => {
    expect(anchoredDomainRegexp.test(input)).toBe(match);
    expect(isValidDomain(input)).toBe(match);
  });
});

describe('repository name grammar', () => {
  it.each(fullNameVectors)('%s', (input, subs) => {
    const m = anchoredNameRegexp.exec(input);
    if (subs === null) {
      expect(m).toBeNull();
    } else {
      expect(m).not.toBeNull();
      expect([m?.[1] ?? '', m?.[2]]).toEqual(subs);
    }
  });

  it('path components allow one period, one or two underscores, and any run of dashes between alphanumerics', () => {
    for (const ok of ['a.b', 'a_b', 'a__b', 'a-b', 'a--b', 'a-----b', 'a.b_c__d-e', '0', 'a/b/c'])
      expect(isValidPath(ok)).toBe(true);
    for (const bad of [
      'a..b',
      'a___b',
      'a._b',
      'a-.b',
      '.a',
      'a.',
      '_a',
      'a_',
      '-a',
      'a-',
      'A',
      'a/',
      '/a',
      'a//b',
      '',
    ])
      expect(isValidPath(bad)).toBe(false);
  });
});

describe('reference grammar', () => {
  it.each(referenceRegexpVectors)('%s', (input, subs) => {
    const m = referenceRegexp.exec(input);
    if (subs === null) {
      expect(m).toBeNull();
    } else {
      expect(m).not.toBeNull();
      expect([m?.[1], m?.[2] ?? '', m?.[3] ?? '']).toEqual(subs);
    }
  });
});

describe('tag grammar', () => {
  it('accepts a word character then up to 127 word characters, dots and dashes', () => {
    for (const ok of ['a', 'A', '_', '0', 'v1.0.0-rc_1', 'latest', `a${'b'.repeat(127)}`])
      expect(isValidTag(ok)).toBe(true);
    for (const bad of ['', '.a', '-a', 'a b', 'a/b', 'a:b', 'a@b', `a${'b'.repeat(128)}`, 'é'])
      expect(isValidTag(bad)).toBe(false);
    expect(anchoredTagRegexp.test('x'.repeat(128))).toBe(true);
    expect(anchoredTagRegexp.test('x'.repeat(129))).toBe(false);
  });
});

describe('identifier grammar', () => {
  it.each(identifierVectors)('%s matches: %s', (input, match) => {
    expect(anchoredIdentifierRegexp.test(input)).toBe(match);
  });
});

describe('digest checks (go-digest rules)', () => {
  it.each([
    [`sha256:${'a'.repeat(64)}`, undefined],
    [`sha384:${'a'.repeat(96)}`, undefined],
    [`sha512:${'a'.repeat(128)}`, undefined],
    [`sha256:${'a'.repeat(63)}`, 'invalid checksum digest length'],
    [`sha256:${'A'.repeat(64)}`, 'invalid checksum digest format'],
    [`sha256:${'g'.repeat(64)}`, 'invalid checksum digest format'],
    [`md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [`multihash+base58:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    [`Sha256:${'a'.repeat(64)}`, 'invalid checksum digest format'],
    ['sha256', 'invalid checksum digest format'],
    ['sha256:', 'invalid checksum digest format'],
    [':abc', 'invalid checksum digest format'],
  ] as const)('%s → %s', (digest, problem) => {
    expect(digestProblem(digest)).toBe(problem);
    if (problem === undefined) expect(isValidReferenceDigest(digest)).toBe(true);
    else expect(isValidReferenceDigest(digest)).toBe(false);
  });
});

describe('grammar performance', () => {
  it('rejects long pathological inputs in linear-ish time', () => {
    const inputs = [
      `${'a'.repeat(50_000)}!`,
      `${'a.'.repeat(25_000)}-`,
      `${'a-'.repeat(25_000)}/`,
      `${'aaaaaaaaa/'.repeat(5_000)}A!`,
      `${'a-a.'.repeat(12_500)}:5/x!`,
      `a:${'b'.repeat(50_000)}`,
    ];
    const start = performance.now();
    for (const s of inputs) expect(referenceRegexp.test(s)).toBe(false);
    expect(performance.now() - start).toBeLessThan(2_000);
  });
});
