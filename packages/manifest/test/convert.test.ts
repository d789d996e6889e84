import { hash } from '@lade/digest';
import { describe, expect, it } from 'vitest';
import {
  buildIndex,
  buildManifest,
  convertConfigMediaType,
  convertLayerMediaType,
  type Descriptor,
  emptyConfig,
  MediaType,
  parseImageIndex,
  parseImageManifest,
  toDockerManifest,
  toDockerManifestList,
  toOciIndex,
  toOciManifest,
} from '../src/index.js';

const d = (s: string, mediaType: string): Descriptor => ({ mediaType, digest: hash(s), size: s.length });

function expectCode(fn: () => unknown, code: string, message: string | RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeDefined();
  expect((err as { code: string }).code).toBe(code);
  if (typeof message === 'string') expect((err as Error).message).toContain(message);
  else expect((err as Error).message).toMatch(message);
}

describe('media type conversion', () => {
  const pairs: [docker: string, oci: string][] = [
    [MediaType.DOCKER_LAYER, MediaType.OCI_LAYER],
    [MediaType.DOCKER_LAYER_GZIP, MediaType.OCI_LAYER_GZIP],
    [MediaType.DOCKER_LAYER_FOREIGN, MediaType.OCI_LAYER_NONDIST],
    [MediaType.DOCKER_LAYER_FOREIGN_GZIP, MediaType.OCI_LAYER_NONDIST_GZIP],
  ];
  for (const [docker, oci] of pairs) {
    it(`${docker} ⇄ ${oci}`, () => {
      expect(convertLayerMediaType(docker, 'oci')).toBe(oci);
      expect(convertLayerMediaType(oci, 'v2s2')).toBe(docker);
      expect(convertLayerMediaType(oci, 'oci')).toBe(oci);
      expect(convertLayerMediaType(docker, 'v2s2')).toBe(docker);
    });
  }

  it('keeps zstd for OCI and refuses it for Docker with UNSUPPORTED', () => {
    expect(convertLayerMediaType(MediaType.OCI_LAYER_ZSTD, 'oci')).toBe(MediaType.OCI_LAYER_ZSTD);
    expectCode(
      () => convertLayerMediaType(MediaType.OCI_LAYER_ZSTD, 'v2s2'),
      'UNSUPPORTED',
      'Docker v2.2 manifest, which has no zstd layer type',
    );
    expectCode(() => convertLayerMediaType(MediaType.OCI_LAYER_NONDIST_ZSTD, 'v2s2'), 'UNSUPPORTED', 'zstd');
  });

  it('refuses non-layer media types', () => {
    expectCode(
      () => convertLayerMediaType(MediaType.HELM_CHART, 'v2s2'),
      'UNSUPPORTED',
      'not an image layer media type',
    );
    expectCode(
      () => convertLayerMediaType('application/x.unknown', 'oci'),
      'UNSUPPORTED',
      'not an image layer media type',
    );
  });

  it('converts image config types and refuses artifact configs for Docker', () => {
    expect(convertConfigMediaType(MediaType.DOCKER_CONFIG, 'oci')).toBe(MediaType.OCI_CONFIG);
    expect(convertConfigMediaType(MediaType.OCI_CONFIG, 'v2s2')).toBe(MediaType.DOCKER_CONFIG);
    expect(convertConfigMediaType(MediaType.HELM_CONFIG, 'oci')).toBe(MediaType.HELM_CONFIG);
    expectCode(() => convertConfigMediaType(MediaType.HELM_CONFIG, 'v2s2'), 'UNSUPPORTED', "is an artifact's");
  });
});

describe('manifest conversion', () => {
  const docker = buildManifest({
    mediaType: MediaType.DOCKER_MANIFEST,
    config: d('cfg', MediaType.DOCKER_CONFIG),
    layers: [
      d('l1', MediaType.DOCKER_LAYER_GZIP),
      { ...d('l2', MediaType.DOCKER_LAYER_FOREIGN_GZIP), urls: ['https://example.com/l2'] },
      d('l3', MediaType.DOCKER_LAYER),
    ],
  });
  const dockerParsed = parseImageManifest(docker.bytes);

  it('converts Docker v2.2 to OCI: new bytes and digest, same blobs, media types mapped', () => {
    const oci = toOciManifest(dockerParsed);
    expect(oci.changed).toBe(true);
    expect(oci.descriptor.mediaType).toBe(MediaType.OCI_MANIFEST);
    expect(oci.descriptor.digest).toBe(hash(oci.bytes));
    expect(oci.descriptor.digest).not.toBe(docker.descriptor.digest);
    expect(oci.value.config).toEqual({ ...dockerParsed.manifest.config, mediaType: MediaType.OCI_CONFIG });
    expect(oci.value.layers.map((l) => l.mediaType)).toEqual([
      MediaType.OCI_LAYER_GZIP,
      MediaType.OCI_LAYER_NONDIST_GZIP,
      MediaType.OCI_LAYER,
    ]);
    expect(oci.value.layers.map((l) => l.digest)).toEqual(dockerParsed.manifest.layers.map((l) => l.digest));
    expect(oci.value.layers[1]?.urls).toEqual(['https://example.com/l2']);
  });

  it('round-trips Docker → OCI → Docker to the same bytes', () => {
    const oci = toOciManifest(dockerParsed);
    const back = toDockerManifest(parseImageManifest(oci.bytes));
    expect(back.bytes).toEqual(docker.bytes);
    expect(back.descriptor.digest).toBe(docker.descriptor.digest);
  });

  it('round-trips OCI → Docker → OCI to the same bytes for lade-built manifests', () => {
    const oci = buildManifest({
      config: d('c', MediaType.OCI_CONFIG),
      layers: [d('a', MediaType.OCI_LAYER_GZIP), d('b', MediaType.OCI_LAYER)],
    });
    const there = toDockerManifest(parseImageManifest(oci.bytes));
    const back = toOciManifest(parseImageManifest(there.bytes));
    expect(back.descriptor.digest).toBe(oci.descriptor.digest);
  });

  it('returns the original bytes when the manifest is already in the target format', () => {
    const same = toDockerManifest(dockerParsed);
    expect(same.changed).toBe(false);
    expect(same.bytes).toBe(docker.bytes);
    expect(same.descriptor.digest).toBe(docker.descriptor.digest);
  });

  it('drops manifest annotations going to Docker', () => {
    const oci = buildManifest({ config: d('c', MediaType.OCI_CONFIG), layers: [], annotations: { a: 'b' } });
    expect(toDockerManifest(parseImageManifest(oci.bytes)).value.annotations).toBeUndefined();
  });

  it('refuses zstd layers, artifacts and referrers going to Docker (UNSUPPORTED)', () => {
    const zstd = buildManifest({ config: d('c', MediaType.OCI_CONFIG), layers: [d('z', MediaType.OCI_LAYER_ZSTD)] });
    expectCode(() => toDockerManifest(parseImageManifest(zstd.bytes)), 'UNSUPPORTED', 'zstd');
    const artifact = buildManifest({ config: emptyConfig, layers: [], artifactType: 'application/x.sig' });
    expectCode(() => toDockerManifest(parseImageManifest(artifact.bytes)), 'UNSUPPORTED', 'artifact manifest');
    const helm = buildManifest({ config: d('h', MediaType.HELM_CONFIG), layers: [d('c', MediaType.HELM_CHART)] });
    expectCode(() => toDockerManifest(parseImageManifest(helm.bytes)), 'UNSUPPORTED', "artifact's");
    const referrer = buildManifest({
      config: d('c', MediaType.OCI_CONFIG),
      layers: [],
      subject: d('s', MediaType.OCI_MANIFEST),
    });
    expectCode(() => toDockerManifest(parseImageManifest(referrer.bytes)), 'UNSUPPORTED', 'subject');
  });

  it('converts plain manifest values too', () => {
    expect(toOciManifest(dockerParsed.manifest).descriptor.mediaType).toBe(MediaType.OCI_MANIFEST);
  });
});

describe('index conversion', () => {
  const a = d('a', MediaType.DOCKER_MANIFEST);
  const b = d('b', MediaType.DOCKER_MANIFEST);
  const list = buildIndex({
    mediaType: MediaType.DOCKER_MANIFEST_LIST,
    manifests: [
      { ...a, platform: { os: 'linux', architecture: 'amd64' } },
      { ...b, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  });
  const parsed = parseImageIndex(list.bytes);

  it('converts a manifest list to an OCI index, replacing converted children and keeping platforms', () => {
    const newA = d('A', MediaType.OCI_MANIFEST);
    const oci = toOciIndex(parsed, new Map([[a.digest, newA]]));
    expect(oci.descriptor.mediaType).toBe(MediaType.OCI_INDEX);
    expect(oci.value.manifests[0]).toEqual({ ...newA, platform: { architecture: 'amd64', os: 'linux' } });
    expect(oci.value.manifests[1]?.digest).toBe(b.digest);
  });

  it('round-trips list → index → list to the same bytes when children are unchanged', () => {
    const oci = toOciIndex(parsed);
    const back = toDockerManifestList(parseImageIndex(oci.bytes));
    expect(back.bytes).toEqual(list.bytes);
  });

  it('keeps the bytes when already in the target format and no child changed', () => {
    expect(toDockerManifestList(parsed).changed).toBe(false);
    expect(toDockerManifestList(parsed, new Map([[a.digest, d('A2', MediaType.DOCKER_MANIFEST)]])).changed).toBe(true);
  });

  it('refuses nested indexes and artifact indexes going to a Docker list', () => {
    const nested = buildIndex({ manifests: [d('i', MediaType.OCI_INDEX)] });
    expectCode(() => toDockerManifestList(parseImageIndex(nested.bytes)), 'UNSUPPORTED', 'cannot hold');
    const art = buildIndex({ manifests: [], artifactType: 'application/x.a' });
    expectCode(() => toDockerManifestList(parseImageIndex(art.bytes)), 'UNSUPPORTED', 'artifactType or subject');
  });
});
