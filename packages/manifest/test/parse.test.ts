import { hash } from '@lade/digest';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  MAX_MANIFEST_SIZE,
  ManifestInvalidError,
  MediaType,
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  parseManifest,
  SCHEMA1_MESSAGE,
  Schema1UnsupportedError,
} from '../src/index.js';

const enc = new TextEncoder();
const bytesOf = (v: unknown) => enc.encode(typeof v === 'string' ? v : JSON.stringify(v));
const D1 = hash('config');
const D2 = hash('layer');
const D3 = hash('other');

const ociManifest = {
  schemaVersion: 2,
  mediaType: MediaType.OCI_MANIFEST,
  config: { mediaType: MediaType.OCI_CONFIG, digest: D1, size: 6 },
  layers: [{ mediaType: MediaType.OCI_LAYER_GZIP, digest: D2, size: 5 }],
};
const dockerManifest = {
  schemaVersion: 2,
  mediaType: MediaType.DOCKER_MANIFEST,
  config: { mediaType: MediaType.DOCKER_CONFIG, digest: D1, size: 6 },
  layers: [{ mediaType: MediaType.DOCKER_LAYER_GZIP, digest: D2, size: 5 }],
};
const ociIndex = {
  schemaVersion: 2,
  mediaType: MediaType.OCI_INDEX,
  manifests: [
    { mediaType: MediaType.OCI_MANIFEST, digest: D3, size: 10, platform: { architecture: 'amd64', os: 'linux' } },
  ],
};

function expectInvalid(fn: () => unknown, message: RegExp | string, code = 'MANIFEST_INVALID'): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeDefined();
  expect((caught as { code: string }).code).toBe(code);
  if (typeof message === 'string') expect((caught as Error).message).toContain(message);
  else expect((caught as Error).message).toMatch(message);
}

describe('parseManifest: valid documents', () => {
  it('parses an OCI manifest and keeps the exact bytes, with the digest of those bytes', () => {
    const bytes = enc.encode(
      `{ "schemaVersion": 2,\n  "mediaType": "${MediaType.OCI_MANIFEST}", "config": ${JSON.stringify(ociManifest.config)}, "layers": [] }`,
    );
    const p = parseManifest(bytes);
    expect(p.kind).toBe('manifest');
    expect(p.bytes).toBe(bytes);
    expect(p.digest).toBe(hash(bytes));
    expect(p.size).toBe(bytes.byteLength);
    expect(p.mediaType).toBe(MediaType.OCI_MANIFEST);
    // Re-serializing would change the digest: the parse never does.
    expect(hash(canonicalJson(JSON.parse(new TextDecoder().decode(bytes))))).not.toBe(p.digest);
  });

  it('parses a Docker v2.2 manifest', () => {
    const p = parseImageManifest(bytesOf(dockerManifest));
    expect(p.mediaType).toBe(MediaType.DOCKER_MANIFEST);
    expect(p.manifest.layers[0]?.digest).toBe(D2);
  });

  it('parses an OCI index and a Docker manifest list as kind index', () => {
    const i = parseManifest(bytesOf(ociIndex));
    expect(i.kind).toBe('index');
    if (i.kind === 'index') expect(i.index.manifests[0]?.platform?.architecture).toBe('amd64');
    const l = parseImageIndex(bytesOf({ ...ociIndex, mediaType: MediaType.DOCKER_MANIFEST_LIST }));
    expect(l.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST);
  });

  it('takes the media type from the content type when the body has none (OCI allows omitting it)', () => {
    const { mediaType: _m, ...noType } = ociManifest;
    expect(parseManifest(bytesOf(noType), MediaType.OCI_MANIFEST).mediaType).toBe(MediaType.OCI_MANIFEST);
    const { mediaType: _i, ...noTypeIndex } = ociIndex;
    expect(parseManifest(bytesOf(noTypeIndex), MediaType.OCI_INDEX).kind).toBe('index');
  });

  it('guesses OCI manifest or index from the shape when neither body nor content type names a type', () => {
    const { mediaType: _m, ...noType } = ociManifest;
    expect(parseManifest(bytesOf(noType)).mediaType).toBe(MediaType.OCI_MANIFEST);
    const { mediaType: _i, ...noTypeIndex } = ociIndex;
    expect(parseManifest(bytesOf(noTypeIndex)).mediaType).toBe(MediaType.OCI_INDEX);
  });

  it('ignores generic content types and parameters', () => {
    expect(parseManifest(bytesOf(ociManifest), 'application/json').kind).toBe('manifest');
    expect(parseManifest(bytesOf(ociManifest), 'application/octet-stream').kind).toBe('manifest');
    expect(parseManifest(bytesOf(ociManifest), `${MediaType.OCI_MANIFEST}; charset=utf-8`).kind).toBe('manifest');
  });

  it('accepts subject, artifactType and annotations (OCI 1.1 artifacts and referrers)', () => {
    const m = {
      ...ociManifest,
      artifactType: 'application/vnd.example.sbom.v1+json',
      config: { mediaType: MediaType.OCI_EMPTY, digest: hash('{}'), size: 2, data: 'e30=' },
      subject: { mediaType: MediaType.OCI_MANIFEST, digest: D3, size: 100 },
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    };
    const p = parseImageManifest(bytesOf(m));
    expect(p.manifest.artifactType).toBe('application/vnd.example.sbom.v1+json');
    expect(p.manifest.subject?.digest).toBe(D3);
    const i = parseImageIndex(bytesOf({ ...ociIndex, artifactType: 'application/x.t+json', subject: m.subject }));
    expect(i.index.subject?.size).toBe(100);
  });

  it('accepts helm charts (an artifact config and non-image layers)', () => {
    const m = {
      schemaVersion: 2,
      config: { mediaType: MediaType.HELM_CONFIG, digest: D1, size: 6 },
      layers: [{ mediaType: MediaType.HELM_CHART, digest: D2, size: 5 }],
    };
    expect(parseImageManifest(bytesOf(m)).manifest.config.mediaType).toBe(MediaType.HELM_CONFIG);
  });

  it('accepts foreign layers with urls', () => {
    const m = {
      ...dockerManifest,
      layers: [
        { mediaType: MediaType.DOCKER_LAYER_FOREIGN_GZIP, digest: D2, size: 5, urls: ['https://example.com/l'] },
      ],
    };
    expect(parseImageManifest(bytesOf(m)).manifest.layers[0]?.urls).toEqual(['https://example.com/l']);
  });

  it('verifies the expected digest and size when asked', () => {
    const b = bytesOf(ociManifest);
    expect(parseManifest(b, { expected: { digest: hash(b), size: b.byteLength } }).digest).toBe(hash(b));
    expectInvalid(() => parseManifest(b, { expected: { digest: D1 } }), 'does not match', 'DIGEST_INVALID');
    expectInvalid(() => parseManifest(b, { expected: { digest: hash(b), size: 1 } }), 'expected 1', 'SIZE_INVALID');
  });

  it('returns frozen values', () => {
    const p = parseImageManifest(bytesOf(ociManifest));
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.manifest.layers)).toBe(true);
    expect(Object.isFrozen(p.manifest.config)).toBe(true);
  });

  it('computes a sha512 digest when the expected digest is sha512', () => {
    const b = bytesOf(ociManifest);
    const d = hash(b, { algorithm: 'sha512' });
    expect(parseManifest(b, { expected: { digest: d } }).digest).toBe(d);
  });
});

describe('parseManifest: rejected documents', () => {
  const cases: [string, unknown, string | RegExp, string?][] = [
    ['not JSON', '{"schemaVersion": 2', 'not JSON'],
    ['JSON that is not an object', '[1,2]', 'expected a JSON object, got an array'],
    ['a missing schemaVersion', { config: ociManifest.config, layers: [] }, 'schemaVersion: missing'],
    ['schemaVersion 3', { ...ociManifest, schemaVersion: 3 }, 'schemaVersion: expected 2, got 3'],
    ['schemaVersion as a string', { ...ociManifest, schemaVersion: '2' }, 'schemaVersion: expected 2, got "2"'],
    [
      'an unknown mediaType',
      { ...ociManifest, mediaType: 'application/vnd.example+json' },
      'unsupported manifest media type "application/vnd.example+json"',
    ],
    ['a mediaType that is not a string', { ...ociManifest, mediaType: 5 }, /no mediaType|expected a string/],
    ['a missing config', { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, layers: [] }, 'config: missing'],
    [
      'missing layers',
      { schemaVersion: 2, mediaType: MediaType.OCI_MANIFEST, config: ociManifest.config },
      'layers: missing',
    ],
    ['layers that are not an array', { ...ociManifest, layers: {} }, 'layers: expected an array, got an object'],
    [
      'a descriptor without mediaType',
      { ...ociManifest, layers: [{ digest: D2, size: 1 }] },
      'layers[0].mediaType: missing',
    ],
    [
      'a descriptor with a bad mediaType',
      { ...ociManifest, layers: [{ mediaType: 'tar', digest: D2, size: 1 }] },
      'layers[0].mediaType: "tar" is not a valid media type',
    ],
    [
      'a descriptor without digest',
      { ...ociManifest, layers: [{ mediaType: MediaType.OCI_LAYER, size: 1 }] },
      'layers[0].digest: missing',
    ],
    [
      'an invalid digest',
      { ...ociManifest, layers: [{ mediaType: MediaType.OCI_LAYER, digest: 'sha256:abc', size: 1 }] },
      'layers[0].digest: invalid digest "sha256:abc"',
    ],
    [
      'an upper-case digest',
      { ...ociManifest, config: { ...ociManifest.config, digest: D1.toUpperCase() } },
      'config.digest: invalid digest',
    ],
    [
      'an md5 digest',
      { ...ociManifest, config: { ...ociManifest.config, digest: 'md5:0123' } },
      'unsupported algorithm "md5"',
    ],
    [
      'a descriptor without size',
      { ...ociManifest, layers: [{ mediaType: MediaType.OCI_LAYER, digest: D2 }] },
      'layers[0].size: missing',
    ],
    [
      'a negative size',
      { ...ociManifest, layers: [{ mediaType: MediaType.OCI_LAYER, digest: D2, size: -1 }] },
      'layers[0].size: size must be a non-negative integer, got -1',
    ],
    [
      'a fractional size',
      { ...ociManifest, layers: [{ mediaType: MediaType.OCI_LAYER, digest: D2, size: 1.5 }] },
      'got 1.5',
    ],
    [
      'a size as a string',
      { ...ociManifest, config: { ...ociManifest.config, size: '6' } },
      'config.size: size must be a non-negative integer, got "6"',
    ],
    ['a size beyond 2^53', { ...ociManifest, config: { ...ociManifest.config, size: 2 ** 60 } }, 'config.size'],
    [
      'urls that are not strings',
      { ...ociManifest, layers: [{ ...ociManifest.layers[0], urls: [1] }] },
      'layers[0].urls[0]: expected a string',
    ],
    [
      'annotations with a non-string value',
      { ...ociManifest, annotations: { a: 1 } },
      'annotations["a"]: expected a string, got 1',
    ],
    [
      'a bad subject',
      { ...ociManifest, subject: { mediaType: MediaType.OCI_MANIFEST, digest: 'nope', size: 1 } },
      'subject.digest',
    ],
    [
      'a bad artifactType',
      { ...ociManifest, artifactType: 'not a type' },
      'artifactType: "not a type" is not a valid media type',
    ],
    [
      'embedded data that does not match the digest',
      { ...ociManifest, config: { ...ociManifest.config, data: 'e30=' } },
      'config.data: does not match',
    ],
    [
      'embedded data that is not base64',
      { ...ociManifest, config: { ...ociManifest.config, data: '!!' } },
      'config.data: is not valid base64',
    ],
    [
      'an index entry with a platform lacking os',
      { ...ociIndex, manifests: [{ ...ociIndex.manifests[0], platform: { architecture: 'amd64' } }] },
      'manifests[0].platform.os: expected a string',
    ],
    ['an index without manifests', { schemaVersion: 2, mediaType: MediaType.OCI_INDEX }, 'manifests: missing'],
    [
      'an index whose manifests is not an array',
      { schemaVersion: 2, mediaType: MediaType.OCI_INDEX, manifests: 'x' },
      'manifests: expected an array',
    ],
    ['a document that is neither manifest nor index', { schemaVersion: 2 }, 'neither a manifest'],
  ];
  for (const [what, doc, message, code] of cases) {
    it(`rejects ${what} with MANIFEST_INVALID`, () => {
      expectInvalid(() => parseManifest(bytesOf(doc as object)), message, code);
    });
  }

  it('names the manifest by digest in every message', () => {
    const b = bytesOf({ ...ociManifest, layers: 5 });
    expectInvalid(() => parseManifest(b), `invalid manifest ${hash(b)}: layers`);
  });

  it('rejects bytes that are not UTF-8', () => {
    expectInvalid(() => parseManifest(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 'not UTF-8');
  });

  it('rejects a manifest over 4 MiB before parsing it', () => {
    const big = new Uint8Array(MAX_MANIFEST_SIZE + 1).fill(0x20);
    expectInvalid(() => parseManifest(big), `manifest is ${MAX_MANIFEST_SIZE + 1} bytes, over the 4 MiB limit`);
    expect(MAX_MANIFEST_SIZE).toBe(4 * 1024 * 1024);
  });

  it('accepts a manifest of exactly 4 MiB', () => {
    const doc = JSON.stringify(ociManifest);
    const padded = doc + ' '.repeat(MAX_MANIFEST_SIZE - doc.length);
    expect(parseManifest(enc.encode(padded)).size).toBe(MAX_MANIFEST_SIZE);
  });

  it('rejects a content type that disagrees with the body mediaType', () => {
    expectInvalid(
      () => parseManifest(bytesOf(dockerManifest), MediaType.OCI_MANIFEST),
      `served as ${MediaType.OCI_MANIFEST} but its mediaType is ${MediaType.DOCKER_MANIFEST}`,
    );
    expectInvalid(() => parseManifest(bytesOf(ociIndex), MediaType.OCI_MANIFEST), 'but its mediaType is');
  });

  it('trusts the body on a mismatch when preferBody is set', () => {
    const p = parseManifest(bytesOf(dockerManifest), { contentType: MediaType.OCI_MANIFEST, preferBody: true });
    expect(p.mediaType).toBe(MediaType.DOCKER_MANIFEST);
    const q = parseManifest(bytesOf(dockerManifest), {
      contentType: 'application/vnd.oci.descriptor.v1+json',
      preferBody: true,
    });
    expect(q.mediaType).toBe(MediaType.DOCKER_MANIFEST);
  });

  it('rejects an unknown content type', () => {
    expectInvalid(
      () => parseManifest(bytesOf(ociManifest), 'application/vnd.example+json'),
      'unsupported manifest media type "application/vnd.example+json"',
    );
  });

  it('rejects an index where a manifest is required, and the other way round', () => {
    expectInvalid(() => parseImageManifest(bytesOf(ociIndex)), 'is an index');
    expectInvalid(() => parseImageIndex(bytesOf(ociManifest)), 'not an index');
  });

  it('rejects an index whose manifests entry has no media type', () => {
    expectInvalid(
      () => parseManifest(bytesOf({ ...ociIndex, manifests: [{ digest: D1, size: 1 }] })),
      'manifests[0].mediaType: missing',
    );
  });
});

describe('schema 1 manifests', () => {
  const schema1 = {
    schemaVersion: 1,
    name: 'library/hello',
    tag: 'latest',
    architecture: 'amd64',
    fsLayers: [{ blobSum: D1 }],
    history: [{ v1Compatibility: '{}' }],
  };
  const signed = { ...schema1, signatures: [{ header: {}, signature: 'x', protected: 'y' }] };

  it('rejects an unsigned schema 1 body with the re-push message and UNSUPPORTED', () => {
    expectInvalid(() => parseManifest(bytesOf(schema1)), SCHEMA1_MESSAGE, 'UNSUPPORTED');
    expect(SCHEMA1_MESSAGE).toBe('schema1 manifests are not supported; re-push the image with a current client');
  });

  it('rejects a signed schema 1 body', () => {
    expect(() => parseManifest(bytesOf(signed))).toThrow(Schema1UnsupportedError);
  });

  it('rejects schema 1 content types even before looking at the body', () => {
    expectInvalid(
      () => parseManifest(bytesOf(ociManifest), MediaType.DOCKER_SCHEMA1_SIGNED),
      SCHEMA1_MESSAGE,
      'UNSUPPORTED',
    );
    expectInvalid(
      () => parseManifest(bytesOf(ociManifest), MediaType.DOCKER_SCHEMA1_MANIFEST),
      SCHEMA1_MESSAGE,
      'UNSUPPORTED',
    );
  });

  it('rejects a schema 1 mediaType in the body', () => {
    expectInvalid(
      () => parseManifest(bytesOf({ ...ociManifest, mediaType: MediaType.DOCKER_SCHEMA1_MANIFEST })),
      SCHEMA1_MESSAGE,
      'UNSUPPORTED',
    );
  });
});

describe('parseImageConfig', () => {
  const config = {
    architecture: 'arm64',
    os: 'linux',
    variant: 'v8',
    created: '2024-05-01T10:00:00Z',
    author: 'someone',
    config: {
      User: '1000:1000',
      Env: ['PATH=/usr/bin'],
      Entrypoint: ['/entry'],
      Cmd: null,
      WorkingDir: '/app',
      Labels: { a: 'b' },
      ExposedPorts: { '80/tcp': {} },
      Volumes: { '/data': {} },
      StopSignal: 'SIGTERM',
      ArgsEscaped: true,
      Hostname: '',
    },
    rootfs: { type: 'layers', diff_ids: [D1, D2] },
    history: [
      { created: '2024-05-01T10:00:00Z', created_by: 'ADD x /', comment: 'buildkit' },
      { created_by: 'ENV a=b', empty_layer: true, author: 'me' },
    ],
    docker_version: '25.0.0',
  };

  it('parses a config; its digest is the image ID; unknown fields are kept', () => {
    const b = bytesOf(config);
    const p = parseImageConfig(b);
    expect(p.digest).toBe(hash(b));
    expect(p.bytes).toBe(b);
    expect(p.config.config?.Entrypoint).toEqual(['/entry']);
    expect(p.config.config?.Cmd).toBeNull();
    expect(p.config.rootfs.diff_ids).toEqual([D1, D2]);
    expect(p.config.history?.[1]?.empty_layer).toBe(true);
    expect(p.config.docker_version).toBe('25.0.0');
    expect(p.config['os.version']).toBeUndefined();
  });

  it('accepts nulls docker writes (Labels, Env, Volumes) and an empty config', () => {
    const p = parseImageConfig(
      bytesOf({ ...config, config: { Labels: null, Env: null, Volumes: null, ExposedPorts: null, OnBuild: null } }),
    );
    expect(p.config.config?.Labels).toBeNull();
    expect(
      parseImageConfig(
        bytesOf({
          architecture: 'amd64',
          os: 'windows',
          'os.version': '10.0.17763.1',
          rootfs: { type: 'layers', diff_ids: [] },
        }),
      ).config['os.version'],
    ).toBe('10.0.17763.1');
  });

  const bad: [string, unknown, string][] = [
    ['a missing architecture', { ...config, architecture: undefined }, 'architecture: missing'],
    ['a missing os', { ...config, os: undefined }, 'os: missing'],
    ['an os that is not a string', { ...config, os: 1 }, 'os: expected a string, got 1'],
    ['a missing rootfs', { ...config, rootfs: undefined }, 'rootfs: missing'],
    [
      'a rootfs type other than layers',
      { ...config, rootfs: { type: 'other', diff_ids: [] } },
      'rootfs.type: expected "layers", got "other"',
    ],
    ['missing diff_ids', { ...config, rootfs: { type: 'layers' } }, 'rootfs.diff_ids: missing'],
    ['a bad diff_id', { ...config, rootfs: { type: 'layers', diff_ids: ['sha256:1'] } }, 'rootfs.diff_ids[0]'],
    [
      'Env that is not a string array',
      { ...config, config: { Env: 'A=B' } },
      'config.Env: expected an array of strings',
    ],
    ['Cmd with a number', { ...config, config: { Cmd: ['a', 1] } }, 'config.Cmd[1]: expected a string, got 1'],
    [
      'Labels with a non-string value',
      { ...config, config: { Labels: { a: true } } },
      'config.Labels["a"]: expected a string, got true',
    ],
    [
      'ExposedPorts entries that are not objects',
      { ...config, config: { ExposedPorts: { '80/tcp': 1 } } },
      'config.ExposedPorts["80/tcp"]',
    ],
    ['a WorkingDir that is not a string', { ...config, config: { WorkingDir: 1 } }, 'config.WorkingDir'],
    ['history that is not an array', { ...config, history: {} }, 'history: expected an array'],
    [
      'history empty_layer that is not a boolean',
      { ...config, history: [{ empty_layer: 'yes' }] },
      'history[0].empty_layer: expected a boolean',
    ],
    ['history created_by that is not a string', { ...config, history: [{ created_by: 1 }] }, 'history[0].created_by'],
  ];
  for (const [what, doc, message] of bad) {
    it(`rejects ${what} with MANIFEST_INVALID`, () => {
      const b = bytesOf(doc);
      expectInvalid(() => parseImageConfig(b), `invalid image config ${hash(b)}: ${message}`);
    });
  }

  it('rejects a config over 4 MiB', () => {
    expectInvalid(() => parseImageConfig(new Uint8Array(MAX_MANIFEST_SIZE + 1)), 'over the 4 MiB limit');
  });

  it('throws ManifestInvalidError instances', () => {
    expect(() => parseImageConfig(bytesOf('nope'))).toThrow(ManifestInvalidError);
  });
});
