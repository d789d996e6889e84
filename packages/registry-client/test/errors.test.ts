import { describe, expect, it } from 'vitest';
import { registryErrorFrom } from '../src/errors.js';
import { nextLink, parseRetryAfter } from '../src/http.js';
import {
  DeniedError,
  dockerErrorMessage,
  errcodeText,
  isDockerHub,
  isLoopback,
  ManifestUnknownError,
  matchesInsecure,
  parseErrorBody,
  parseMirror,
  Registry,
  RegistryError,
  registryEndpoint,
  TooManyRequestsError,
  UnauthorizedError,
} from '../src/index.js';

describe('registry error bodies', () => {
  it("parses distribution's errors array with code, message and detail", () => {
    expect(
      parseErrorBody('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}'),
    ).toEqual([{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: 'x' } }]);
  });
  it('reads token services\' {"details": …} bodies', () => {
    expect(parseErrorBody('{"details":"incorrect username or password"}')).toEqual([
      { code: 'UNKNOWN', message: 'incorrect username or password' },
    ]);
  });
  it('returns undefined for non-JSON and foreign shapes', () => {
    expect(parseErrorBody('<html>bad gateway</html>')).toBeUndefined();
    expect(parseErrorBody('')).toBeUndefined();
    expect(parseErrorBody('[1,2]')).toBeUndefined();
  });
  it('maps codes to classes and keeps every entry', () => {
    const e = registryErrorFrom(
      404,
      '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"},{"code":"NAME_UNKNOWN","message":"x"}]}',
      {
        kind: 'manifest',
        host: 'r.example',
        repository: 'a/b',
        reference: 'v1',
      },
    );
    expect(e).toBeInstanceOf(ManifestUnknownError);
    expect(e.code).toBe('MANIFEST_UNKNOWN');
    expect(e.errors).toHaveLength(2);
    expect(e.message).toBe(
      'manifest r.example/a/b:v1: manifest unknown: manifest unknown (HTTP 404); check the tag or digest',
    );
    expect(e.registryMessage).toBe('manifest unknown: manifest unknown');
  });
  const statuses: [number, string, string, typeof RegistryError][] = [
    [401, 'blob', 'UNAUTHORIZED', UnauthorizedError],
    [403, 'manifest', 'DENIED', DeniedError],
    [404, 'manifest', 'MANIFEST_UNKNOWN', ManifestUnknownError],
    [404, 'blob', 'BLOB_UNKNOWN', RegistryError],
    [429, 'manifest', 'TOOMANYREQUESTS', TooManyRequestsError],
    [502, 'manifest', 'UNAVAILABLE', RegistryError],
  ];
  for (const [status, kind, code, cls] of statuses) {
    it(`maps a bodiless ${status} on a ${kind} to ${code}`, () => {
      const e = registryErrorFrom(status, '', {
        kind: kind as 'manifest',
        host: 'h',
        repository: 'r',
        reference: `sha256:${'a'.repeat(64)}`,
      });
      expect(e).toBeInstanceOf(cls);
      expect(e.code).toBe(code);
      expect(e.status).toBe(status);
      expect(e.message).toContain(`h/r@sha256:${'a'.repeat(64)}`);
    });
  }
  it('words errors as docker does', () => {
    const unknown = registryErrorFrom(404, '', { kind: 'manifest', host: 'h', repository: 'r', reference: 'nope' });
    expect(dockerErrorMessage(unknown, { action: 'pull', name: 'h/r', reference: 'nope' })).toBe(
      'manifest for h/r:nope not found: manifest unknown: manifest unknown',
    );
    const denied = registryErrorFrom(
      403,
      '{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}',
      { kind: 'upload' },
    );
    expect(dockerErrorMessage(denied, { action: 'push', name: 'h/r' })).toBe(
      'denied: requested access to the resource is denied',
    );
    const unauth = registryErrorFrom(401, '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', {
      kind: 'manifest',
    });
    expect(dockerErrorMessage(unauth, { action: 'pull', name: 'alpine' })).toBe(
      "pull access denied for alpine, repository does not exist or may require 'docker login': unauthorized: authentication required",
    );
    expect(errcodeText('BLOB_UPLOAD_INVALID')).toBe('blob upload invalid');
  });
});

describe('hosts', () => {
  it('maps Docker Hub names to registry-1.docker.io', () => {
    expect(registryEndpoint('docker.io')).toBe('registry-1.docker.io');
    expect(registryEndpoint('index.docker.io')).toBe('registry-1.docker.io');
    expect(registryEndpoint('ghcr.io')).toBe('ghcr.io');
    expect(isDockerHub('registry-1.docker.io')).toBe(true);
    expect(isDockerHub('quay.io')).toBe(false);
  });
  it('treats only loopback hosts as local', () => {
    for (const h of ['localhost', 'localhost:5000', '127.0.0.1:5000', '127.3.2.1', '[::1]:5000', '::1'])
      expect(isLoopback(h)).toBe(true);
    for (const h of ['10.0.0.1:5000', 'example.com', '128.0.0.1', 'localhost.example.com'])
      expect(isLoopback(h)).toBe(false);
  });
  it('matches insecure-registry entries by host:port, hostname and CIDR', () => {
    expect(matchesInsecure('reg.lan:5000', ['reg.lan:5000'])).toBe(true);
    expect(matchesInsecure('reg.lan:5000', ['reg.lan'])).toBe(true);
    expect(matchesInsecure('reg.lan:5000', ['reg.lan:6000'])).toBe(false);
    expect(matchesInsecure('10.1.2.3:5000', ['10.0.0.0/8'])).toBe(true);
    expect(matchesInsecure('11.1.2.3:5000', ['10.0.0.0/8'])).toBe(false);
    expect(matchesInsecure('reg.lan', ['http://reg.lan/'])).toBe(true);
  });
  it('parses mirror URLs and rejects paths', () => {
    expect(parseMirror('https://mirror.gcr.io')).toEqual({ scheme: 'https', host: 'mirror.gcr.io' });
    expect(parseMirror('http://127.0.0.1:5001/')).toEqual({ scheme: 'http', host: '127.0.0.1:5001' });
    expect(parseMirror('mirror.example')).toEqual({ scheme: 'https', host: 'mirror.example' });
    expect(() => parseMirror('https://mirror.example/v2/path')).toThrow(/invalid registry mirror/);
  });
});

describe('HTTP header helpers', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
  });
  it('follows Link rel="next" relative to the request', () => {
    expect(nextLink('</v2/_catalog?last=b&n=2>; rel="next"', 'http://h:5000/v2/_catalog?n=2')).toBe(
      'http://h:5000/v2/_catalog?last=b&n=2',
    );
    expect(nextLink('<https://other/x?last=1>; rel=next', 'http://h/')).toBe('https://other/x?last=1');
    expect(nextLink('</a>; rel="prev", </b>; rel="next"', 'http://h/')).toBe('http://h/b');
    expect(nextLink(null, 'http://h/')).toBeUndefined();
  });
});

describe('bad input to a Registry is refused before anything is sent', () => {
  // A transport that fails the test if it is ever called.
  const transport = {
    send(): never {
      throw new Error('a request was sent');
    },
    async close() {},
  };
  const r = new Registry('reg.example', { credentials: null, transport });
  const digest = `sha256:${'a'.repeat(64)}`;
  const cases: [string, () => Promise<unknown>, string][] = [
    ['a repository with upper case', () => r.getManifest('Team/App', 'v1'), 'NAME_INVALID'],
    ['a repository with ..', () => r.headBlob('team/../etc', digest), 'NAME_INVALID'],
    ['a repository with a space', () => r.listTags('team app'), 'NAME_INVALID'],
    ['a tag with a slash', () => r.getManifest('team/app', 'v1/x'), 'TAG_INVALID'],
    ['a tag over 128 characters', () => r.headManifest('team/app', 'x'.repeat(129)), 'TAG_INVALID'],
    [
      'a malformed digest for a blob',
      () => r.openBlob('team/app', { digest: 'sha256:abc' as never, size: 1 }),
      'DIGEST_INVALID',
    ],
    ['a malformed digest to delete', () => r.deleteBlob('team/app', 'md5:abc'), 'DIGEST_INVALID'],
    ['a mount source that is no repository', () => r.mountBlob('team/app', digest, 'Bad Repo'), 'NAME_INVALID'],
    [
      'an upload to a bad repository',
      () => r.uploadBlob('-bad', { digest: digest as never, size: 1 }, new Uint8Array(1)),
      'NAME_INVALID',
    ],
    [
      'a manifest pushed under a digest its bytes do not have',
      () => r.putManifest('team/app', digest, new TextEncoder().encode('{}'), 'application/json'),
      'DIGEST_INVALID',
    ],
    ['referrers of a non-digest', () => r.referrers('team/app', 'latest'), 'DIGEST_INVALID'],
  ];
  for (const [what, call, code] of cases) {
    it(`refuses ${what} with ${code}`, async () => {
      await expect(call()).rejects.toMatchObject({ code });
    });
  }
});
