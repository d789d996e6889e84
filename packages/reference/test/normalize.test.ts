import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  familiarName,
  familiarString,
  formatReference,
  LEGACY_DEFAULT_DOMAIN,
  normalizeReference,
  OFFICIAL_REPO_PREFIX,
  parseReference,
} from '../src/index.js';
import { expectInvalid } from './helpers.js';
import {
  canonicalVectors,
  equivalentVectors,
  normalizedSplitVectors,
  normalizeInvalid,
  normalizeValid,
  repositoryInfoVectors,
} from './vectors.js';

describe('constants', () => {
  it("are docker's", () => {
    expect(DEFAULT_DOMAIN).toBe('docker.io');
    expect(LEGACY_DEFAULT_DOMAIN).toBe('index.docker.io');
    expect(OFFICIAL_REPO_PREFIX).toBe('library/');
    expect(DEFAULT_TAG).toBe('latest');
  });
});

describe('normalizeReference accepts what docker accepts', () => {
  it.each(normalizeValid)('%s', (input) => {
    const ref = normalizeReference(input);
    expect(ref.domain).not.toBe('');
    expect(Object.isFrozen(ref)).toBe(true);
  });
});

describe("normalizeReference rejects what docker rejects, with docker's message", () => {
  it.each(normalizeInvalid.map(([i, m]) => [i.length > 80 ? `${i.slice(0, 77)}...` : i, i, m] as const))(
    '%s',
    (_, input, message) => {
      expectInvalid(() => normalizeReference(input), message);
    },
  );

  it('names the official repository in the lowercase error, as `docker pull Ubuntu` does', () => {
    const e = expectInvalid(
      () => normalizeReference('Ubuntu'),
      'invalid reference format: repository name (library/Ubuntu) must be lowercase',
    );
    expect(e.input).toBe('Ubuntu');
  });

  it('names the text before the first colon in the lowercase error, @sha256 included, exactly as docker does', () => {
    expectInvalid(
      () => normalizeReference(`Busybox@sha256:${'a'.repeat(64)}`),
      'invalid reference format: repository name (library/Busybox@sha256) must be lowercase',
    );
  });

  it("passes the grammar's own lowercase error through, as docker does for `docker pull Foo_Bar/x`", () => {
    expectInvalid(() => normalizeReference('Foo_Bar/x'), 'repository name must be lowercase');
  });

  it('reports bad digests with the digest code', () => {
    expectInvalid(
      () => normalizeReference(`busybox@sha256:${'a'.repeat(40)}`),
      'invalid checksum digest length',
      'DIGEST_INVALID',
    );
  });

  it('rejects a first segment that looks like a registry but is not a valid domain', () => {
    expectInvalid(() => normalizeReference('foo_bar.com/app'), 'invalid reference format');
  });
});

describe('normalizeReference: repository spellings (TestParseRepositoryInfo)', () => {
  const cases = repositoryInfoVectors.flatMap((v) =>
    [v.familiar, v.full, ...(v.ambiguous === undefined ? [] : [v.ambiguous])].map((input) => [input, v] as const),
  );
  it.each(cases)('%s', (input, v) => {
    const ref = normalizeReference(input, { defaultTag: false });
    expect(formatReference(ref)).toBe(v.full);
    expect(ref.domain).toBe(v.domain);
    expect(ref.path).toBe(v.path);
    expect(familiarName(ref)).toBe(v.familiar);
    expect(familiarString(input)).toBe(v.familiar);
  });
});

describe('normalizeReference: equivalents (TestParseAnyReference)', () => {
  it.each(equivalentVectors)('%s → %s', (input, normalized) => {
    expect(formatReference(normalizeReference(input, { defaultTag: false }))).toBe(normalized);
    expect(normalizeReference(input, { defaultTag: false })).toEqual(parseReference(normalized));
  });
});

describe('normalizeReference: domain and path (TestNormalizedSplitHostname)', () => {
  it.each(normalizedSplitVectors)('%s → %s %s', (input, domain, path) => {
    const ref = normalizeReference(input);
    expect(ref.domain).toBe(domain);
    expect(ref.path).toBe(path);
  });
});

describe('normalizeReference: canonical strings are fixed points (TestParseNamed)', () => {
  it.each(canonicalVectors)('%s canonical: %s', (input, canonical) => {
    expect(formatReference(normalizeReference(input, { defaultTag: false })) === input).toBe(canonical);
  });
});

describe('normalizeReference: the default tag', () => {
  it('adds latest only when there is neither tag nor digest', () => {
    expect(String(normalizeReference('ubuntu'))).toBe('docker.io/library/ubuntu:latest');
    expect(String(normalizeReference('ubuntu:22.04'))).toBe('docker.io/library/ubuntu:22.04');
    const d = `sha256:${'a'.repeat(64)}`;
    expect(String(normalizeReference(`ubuntu@${d}`))).toBe(`docker.io/library/ubuntu@${d}`);
    expect(String(normalizeReference(`ubuntu:1@${d}`))).toBe(`docker.io/library/ubuntu:1@${d}`);
  });

  it('maps index.docker.io to docker.io and keeps localhost', () => {
    expect(String(normalizeReference('index.docker.io/ubuntu'))).toBe('docker.io/library/ubuntu:latest');
    expect(String(normalizeReference('index.docker.io/user/app:1'))).toBe('docker.io/user/app:1');
    expect(String(normalizeReference('localhost/app'))).toBe('localhost/app:latest');
    expect(String(normalizeReference('localhost:5000/app'))).toBe('localhost:5000/app:latest');
  });

  it('treats a bare host:port without a path as name:tag, as docker does', () => {
    expect(String(normalizeReference('localhost:5000'))).toBe('docker.io/library/localhost:5000');
  });

  it('accepts a parsed reference as well as a string', () => {
    expect(String(normalizeReference(parseReference('user/app')))).toBe('docker.io/user/app:latest');
  });

  it('is idempotent on examples', () => {
    for (const s of [
      'ubuntu',
      'Foo/bar',
      'index.docker.io/library/x',
      '[::1]:5000/a/b:c',
      'docker.io/library/foo/bar',
    ]) {
      const once = normalizeReference(s);
      expect(normalizeReference(once)).toEqual(once);
      expect(normalizeReference(String(once))).toEqual(once);
    }
  });

  it('checks the 255 limit on the normalized path (library/ counts)', () => {
    expect(normalizeReference('a'.repeat(247)).path).toHaveLength(255);
    expectInvalid(() => normalizeReference('a'.repeat(248)), 'repository name must not be more than 255 characters');
  });
});

describe('familiarString', () => {
  it.each([
    ['ubuntu', 'ubuntu'],
    ['ubuntu:latest', 'ubuntu:latest'],
    ['docker.io/library/ubuntu:latest', 'ubuntu:latest'],
    ['index.docker.io/library/ubuntu', 'ubuntu'],
    ['docker.io/user/app:1', 'user/app:1'],
    ['user/app:1', 'user/app:1'],
    ['docker.io/library/foo/bar', 'library/foo/bar'],
    ['ghcr.io/o/r:v', 'ghcr.io/o/r:v'],
    ['localhost:5000/app', 'localhost:5000/app'],
    [
      'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa',
      'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa',
    ],
  ])('%s → %s', (input, familiar) => {
    expect(familiarString(input)).toBe(familiar);
    expect(familiarString(normalizeReference(input, { defaultTag: false }))).toBe(familiar);
  });

  it('keeps docker.io/ when dropping it would name another repository', () => {
    expect(familiarString('docker.io/docker.io/a')).toBe('docker.io/docker.io/a');
    expect(familiarString('docker.io/example.com/app:1')).toBe('docker.io/example.com/app:1');
    expect(familiarString('docker.io/localhost/app')).toBe('docker.io/localhost/app');
    expect(familiarString('docker.io/library/foo.bar')).toBe('foo.bar');
  });

  it('shows the default tag once a reference has been normalized with it', () => {
    expect(familiarString(normalizeReference('ubuntu'))).toBe('ubuntu:latest');
  });

  it('rejects what normalization rejects', () => {
    expectInvalid(
      () => familiarString('Ubuntu'),
      'invalid reference format: repository name (library/Ubuntu) must be lowercase',
    );
  });
});
