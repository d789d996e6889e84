import { isLadeError, LadeError } from '@lade/digest';
import { describe, expect, it } from 'vitest';
import {
  formatReference,
  InvalidReferenceError,
  isDigestReference,
  parseReference,
  repositoryName,
  splitDomain,
  withDigest,
  withoutTagOrDigest,
  withTag,
} from '../src/index.js';
import { expectInvalid } from './helpers.js';
import { parseVectors, rejectVectors, SHA256_F, withDigestVectors, withTagVectors } from './vectors.js';

describe('parseReference: valid references', () => {
  it.each(parseVectors.map((v) => [v.input.length > 80 ? `${v.input.slice(0, 77)}...` : v.input, v] as const))(
    '%s',
    (_, v) => {
      const ref = parseReference(v.input);
      expect(repositoryName(ref)).toBe(v.repository);
      expect(ref.domain).toBe(v.domain);
      expect(ref.tag).toBe(v.tag);
      expect(ref.digest).toBe(v.digest);
      expect(formatReference(ref)).toBe(v.input);
      expect(String(ref)).toBe(v.input);
      expect(`${ref}`).toBe(v.input);
      expect(Object.isFrozen(ref)).toBe(true);
    },
  );

  it('returns plain data: absent tag and digest are absent keys, JSON has only the parts', () => {
    const ref = parseReference('ubuntu');
    expect(Object.keys(ref)).toEqual(['domain', 'path']);
    expect(JSON.parse(JSON.stringify(ref))).toEqual({ domain: '', path: 'ubuntu' });
    expect(ref).toEqual({ domain: '', path: 'ubuntu' });
  });

  it('keeps both the tag and the digest of name:tag@digest', () => {
    const ref = parseReference(`localhost:5000/app:1.2@${SHA256_F}`);
    expect(ref).toEqual({ domain: 'localhost:5000', path: 'app', tag: '1.2', digest: SHA256_F });
    expect(isDigestReference(ref)).toBe(true);
    expect(String(ref)).toBe(`localhost:5000/app:1.2@${SHA256_F}`);
  });

  it('does not normalize: no docker.io, no library/, no latest', () => {
    expect(parseReference('ubuntu')).toEqual({ domain: '', path: 'ubuntu' });
    expect(parseReference('index.docker.io/ubuntu')).toEqual({ domain: 'index.docker.io', path: 'ubuntu' });
  });
});

describe('parseReference: invalid references', () => {
  it.each(rejectVectors.map((v) => [v.input.length > 80 ? `${v.input.slice(0, 77)}...` : v.input, v] as const))(
    '%s',
    (_, v) => {
      const error = expectInvalid(() => parseReference(v.input), v.message, v.code);
      expect(error.input).toBe(v.input);
    },
  );

  it("allows a 255-character path and rejects 256 with docker's message", () => {
    expect(parseReference(`example.com/${'a'.repeat(255)}`).path).toHaveLength(255);
    expectInvalid(
      () => parseReference(`example.com/${'a'.repeat(256)}`),
      'repository name must not be more than 255 characters',
    );
  });
});

describe('InvalidReferenceError', () => {
  it('is a LadeError with code NAME_INVALID, a name, and the rejected input in detail', () => {
    let error: unknown;
    try {
      parseReference('UPPER');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(InvalidReferenceError);
    expect(error).toBeInstanceOf(LadeError);
    expect(isLadeError(error)).toBe(true);
    const e = error as InvalidReferenceError;
    expect(e.name).toBe('InvalidReferenceError');
    expect(e.code).toBe('NAME_INVALID');
    expect(e.detail).toEqual({ input: 'UPPER' });
    expect(e.message).toBe('repository name must be lowercase');
  });
});

describe('repositoryName, splitDomain', () => {
  it('joins domain and path, or gives the path alone', () => {
    expect(repositoryName(parseReference('ghcr.io/o/r:1'))).toBe('ghcr.io/o/r');
    expect(repositoryName(parseReference(`o/r@${SHA256_F}`))).toBe('o/r');
  });

  it.each([
    ['localhost/app', 'localhost', 'app'],
    ['localhost', '', 'localhost'],
    ['example.com/app', 'example.com', 'app'],
    ['example:5000/app', 'example:5000', 'app'],
    ['[::1]:5000/app', '[::1]:5000', 'app'],
    ['Registry/app', 'Registry', 'app'],
    ['library/ubuntu', '', 'library/ubuntu'],
    ['foo_bar.com/x', '', 'foo_bar.com/x'],
  ])('%s → %s + %s', (name, domain, path) => {
    expect(splitDomain(name)).toEqual({ domain, path });
  });
});

describe('withTag, withDigest, withoutTagOrDigest', () => {
  it.each(withTagVectors)('%s + tag %s (digest %s) → %s', (name, tag, digest, combined) => {
    let ref = parseReference(name);
    if (digest !== undefined) ref = withDigest(ref, digest);
    const tagged = withTag(ref, tag);
    expect(String(tagged)).toBe(combined);
    expect(tagged.digest).toBe(digest);
    expect(Object.isFrozen(tagged)).toBe(true);
  });

  it.each(withDigestVectors)('%s + digest %s (tag %s) → %s', (name, digest, tag, combined) => {
    let ref = parseReference(name);
    if (tag !== undefined) ref = withTag(ref, tag);
    const digested = withDigest(ref, digest);
    expect(String(digested)).toBe(combined);
    expect(parseReference(combined)).toEqual(digested);
  });

  it('rejects a bad tag with "invalid tag format" (TAG_INVALID)', () => {
    const ref = parseReference('busybox');
    for (const tag of ['-foo', '', '.x', 'a b', 'x'.repeat(129)])
      expectInvalid(() => withTag(ref, tag), 'invalid tag format', 'TAG_INVALID');
  });

  it('rejects a bad digest with the digest code', () => {
    const ref = parseReference('busybox');
    expectInvalid(() => withDigest(ref, 'foo'), 'invalid digest format', 'DIGEST_INVALID');
    expectInvalid(
      () => withDigest(ref, 'sha256:1234567890098765432112345667890098765'),
      'invalid checksum digest length',
      'DIGEST_INVALID',
    );
    expectInvalid(() => withDigest(ref, `md5:${'a'.repeat(32)}`), 'unsupported digest algorithm', 'DIGEST_INVALID');
  });

  it('strips tag and digest', () => {
    expect(withoutTagOrDigest(parseReference(`a.io/b:c@${SHA256_F}`))).toEqual({ domain: 'a.io', path: 'b' });
  });

  it('does not change the reference it was given', () => {
    const ref = parseReference('busybox:1');
    withTag(ref, '2');
    withDigest(ref, SHA256_F);
    expect(String(ref)).toBe('busybox:1');
  });
});
