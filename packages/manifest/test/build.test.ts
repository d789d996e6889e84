import { hash } from '@lade/digest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildConfig,
  buildIndex,
  buildManifest,
  canonicalJson,
  canonicalJsonString,
  type Descriptor,
  EMPTY_JSON,
  emptyConfig,
  isConfigMediaType,
  isForeignLayer,
  isIndexMediaType,
  isLayerMediaType,
  isManifestMediaType,
  layerCompression,
  MANIFEST_ACCEPT,
  MediaType,
  parseImageConfig,
  parseManifest,
} from '../src/index.js';

const dec = new TextDecoder();
const layer = (s: string, mediaType: string = MediaType.OCI_LAYER_GZIP): Descriptor => ({
  mediaType,
  digest: hash(s),
  size: s.length,
});

describe('media type predicates', () => {
  it('tells manifests, indexes, configs and layers apart', () => {
    expect(isManifestMediaType(MediaType.OCI_MANIFEST)).toBe(true);
    expect(isManifestMediaType(MediaType.DOCKER_MANIFEST)).toBe(true);
    expect(isManifestMediaType(MediaType.DOCKER_SCHEMA1_SIGNED)).toBe(false);
    expect(isManifestMediaType(MediaType.OCI_INDEX)).toBe(false);
    expect(isIndexMediaType(MediaType.OCI_INDEX)).toBe(true);
    expect(isIndexMediaType(`${MediaType.DOCKER_MANIFEST_LIST}; charset=utf-8`)).toBe(true);
    expect(isConfigMediaType(MediaType.OCI_CONFIG)).toBe(true);
    expect(isConfigMediaType(MediaType.DOCKER_CONFIG)).toBe(true);
    expect(isConfigMediaType(MediaType.HELM_CONFIG)).toBe(false);
    expect(isConfigMediaType(MediaType.OCI_EMPTY)).toBe(false);
    for (const t of [
      MediaType.OCI_LAYER,
      MediaType.OCI_LAYER_GZIP,
      MediaType.OCI_LAYER_ZSTD,
      MediaType.OCI_LAYER_NONDIST_ZSTD,
      MediaType.DOCKER_LAYER_GZIP,
      MediaType.DOCKER_LAYER_FOREIGN_GZIP,
    ]) {
      expect(isLayerMediaType(t), t).toBe(true);
    }
    expect(isLayerMediaType(MediaType.HELM_CHART)).toBe(false);
    expect(isLayerMediaType(MediaType.OCI_CONFIG)).toBe(false);
  });

  it('reads the compression of a layer from its media type', () => {
    expect(layerCompression(MediaType.OCI_LAYER)).toBe('none');
    expect(layerCompression(MediaType.OCI_LAYER_GZIP)).toBe('gzip');
    expect(layerCompression(MediaType.OCI_LAYER_ZSTD)).toBe('zstd');
    expect(layerCompression(MediaType.OCI_LAYER_NONDIST_ZSTD)).toBe('zstd');
    expect(layerCompression(MediaType.DOCKER_LAYER_GZIP)).toBe('gzip');
    expect(layerCompression(MediaType.DOCKER_LAYER_FOREIGN_GZIP)).toBe('gzip');
    expect(layerCompression(MediaType.DOCKER_LAYER)).toBe('none');
    expect(layerCompression(MediaType.HELM_CHART)).toBe('gzip');
  });

  it('recognises foreign and non-distributable layers, and layers with urls', () => {
    expect(isForeignLayer(MediaType.DOCKER_LAYER_FOREIGN_GZIP)).toBe(true);
    expect(isForeignLayer(MediaType.OCI_LAYER_NONDIST_GZIP)).toBe(true);
    expect(isForeignLayer(MediaType.OCI_LAYER_GZIP)).toBe(false);
    expect(isForeignLayer({ mediaType: MediaType.OCI_LAYER_GZIP, urls: ['https://x/y'] })).toBe(true);
    expect(isForeignLayer({ mediaType: MediaType.OCI_LAYER_GZIP, urls: [] })).toBe(false);
  });

  it('accepts OCI and Docker manifests and indexes, and no schema 1', () => {
    expect([...MANIFEST_ACCEPT].sort()).toEqual(
      [MediaType.DOCKER_MANIFEST, MediaType.DOCKER_MANIFEST_LIST, MediaType.OCI_INDEX, MediaType.OCI_MANIFEST].sort(),
    );
    expect(Object.isFrozen(MediaType)).toBe(true);
    expect(MediaType.OCI_EMPTY).toBe('application/vnd.oci.empty.v1+json');
  });
});

describe('canonicalJson', () => {
  it('keeps the construction order of keys and drops whitespace and undefined members', () => {
    expect(canonicalJsonString({ b: 1, a: [1, 'x', null, true], c: undefined, d: { z: 1, y: 2 } })).toBe(
      '{"b":1,"a":[1,"x",null,true],"d":{"z":1,"y":2}}',
    );
    expect(canonicalJsonString([undefined])).toBe('[null]');
    expect(canonicalJsonString('<&>')).toBe('"<&>"');
  });

  it('refuses values JSON cannot hold', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow('NaN');
    expect(() => canonicalJson({ a: Number.POSITIVE_INFINITY })).toThrow('Infinity');
    expect(() => canonicalJson({ a: 1n })).toThrow('bigint');
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => canonicalJson(cyc)).toThrow('cycle');
    expect(() => canonicalJson(undefined)).toThrow('undefined');
  });

  it('round-trips any JSON value: parse(canonical(x)) equals x, and canonical is stable', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const s = canonicalJsonString(v);
        const back = JSON.parse(s);
        expect(back).toEqual(JSON.parse(JSON.stringify(v)));
        expect(canonicalJsonString(back)).toBe(s);
        expect(s).toBe(JSON.stringify(v));
      }),
      { numRuns: 300 },
    );
  });

  it('is deterministic: the same value always gives the same digest', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (v) => {
        expect(hash(canonicalJson(v))).toBe(hash(canonicalJson(structuredClone(v))));
      }),
      { numRuns: 200 },
    );
  });
});

describe('buildManifest / buildIndex / buildConfig', () => {
  const config = buildConfig({
    architecture: 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: [hash('a')] },
  });

  it('builds a config whose descriptor digest is the image ID of the bytes', () => {
    expect(config.descriptor).toEqual({
      mediaType: MediaType.OCI_CONFIG,
      digest: hash(config.bytes),
      size: config.bytes.byteLength,
    });
    expect(dec.decode(config.bytes)).toBe(
      `{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["${hash('a')}"]}}`,
    );
    expect(parseImageConfig(config.bytes).digest).toBe(config.descriptor.digest);
    expect(buildConfig(config.value, { mediaType: MediaType.DOCKER_CONFIG }).descriptor.mediaType).toBe(
      MediaType.DOCKER_CONFIG,
    );
  });

  it('refuses to build an invalid config', () => {
    expect(() =>
      buildConfig({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:x' as never] } }),
    ).toThrow(/rootfs.diff_ids\[0\]/);
  });

  it('builds an OCI manifest in the spec field order, parseable, with the descriptor of its bytes', () => {
    const m = buildManifest({ config: config.descriptor, layers: [layer('a')], annotations: { k: 'v' } });
    expect(dec.decode(m.bytes)).toBe(
      `{"schemaVersion":2,"mediaType":"${MediaType.OCI_MANIFEST}","config":{"mediaType":"${MediaType.OCI_CONFIG}","digest":"${config.descriptor.digest}","size":${config.descriptor.size}},"layers":[{"mediaType":"${MediaType.OCI_LAYER_GZIP}","digest":"${hash('a')}","size":1}],"annotations":{"k":"v"}}`,
    );
    expect(m.descriptor).toEqual({
      mediaType: MediaType.OCI_MANIFEST,
      digest: hash(m.bytes),
      size: m.bytes.byteLength,
    });
    const p = parseManifest(m.bytes);
    expect(p.digest).toBe(m.descriptor.digest);
  });

  it('builds artifacts with the empty config, artifactType and subject', () => {
    const subject = { mediaType: MediaType.OCI_MANIFEST, digest: hash('s'), size: 3 };
    const m = buildManifest({
      config: emptyConfig,
      layers: [layer('sbom', 'application/spdx+json')],
      artifactType: 'application/spdx+json',
      subject,
    });
    expect(m.descriptor.artifactType).toBe('application/spdx+json');
    expect(m.value.subject).toEqual(subject);
    expect(emptyConfig.digest).toBe('sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a');
    expect(hash(EMPTY_JSON)).toBe(emptyConfig.digest);
  });

  it('drops unknown descriptor fields and keeps the OCI ones', () => {
    const extra = { ...layer('a'), urls: ['https://u'], annotations: { x: 'y' }, bogus: 1 } as unknown as Descriptor;
    const m = buildManifest({ config: config.descriptor, layers: [extra] });
    expect(m.value.layers[0]).toEqual({
      mediaType: MediaType.OCI_LAYER_GZIP,
      digest: hash('a'),
      size: 1,
      urls: ['https://u'],
      annotations: { x: 'y' },
    });
  });

  it('refuses Docker manifests with OCI-only fields, and non-manifest media types', () => {
    expect(() =>
      buildManifest({
        config: config.descriptor,
        layers: [],
        mediaType: MediaType.DOCKER_MANIFEST,
        annotations: { a: 'b' },
      }),
    ).toThrow(/Docker v2.2 manifest has no/);
    expect(() => buildManifest({ config: config.descriptor, layers: [], mediaType: MediaType.OCI_INDEX })).toThrow(
      /cannot build a manifest/,
    );
    expect(() => buildIndex({ manifests: [], mediaType: MediaType.OCI_MANIFEST })).toThrow(/cannot build an index/);
    expect(() => buildIndex({ manifests: [], mediaType: MediaType.DOCKER_MANIFEST_LIST, subject: layer('x') })).toThrow(
      /manifest list has no/,
    );
  });

  it('refuses invalid descriptors with MANIFEST_INVALID', () => {
    try {
      buildManifest({ config: { ...config.descriptor, size: -1 }, layers: [] });
      expect.unreachable();
    } catch (e) {
      expect((e as { code: string }).code).toBe('MANIFEST_INVALID');
    }
  });

  it('builds an index and a Docker manifest list with platforms', () => {
    const m = buildManifest({ config: config.descriptor, layers: [layer('a')] });
    const i = buildIndex({
      manifests: [{ ...m.descriptor, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }],
    });
    expect(dec.decode(i.bytes)).toContain('"platform":{"architecture":"arm64","os":"linux","variant":"v8"}');
    expect(parseManifest(i.bytes).kind).toBe('index');
    const l = buildIndex({ manifests: [m.descriptor], mediaType: MediaType.DOCKER_MANIFEST_LIST });
    expect(l.descriptor.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST);
  });

  it('round-trips arbitrary manifests through build and parse (fast-check)', () => {
    const hex = fc.stringMatching(/^[a-f0-9]{64}$/);
    const desc = fc.record({
      mediaType: fc.constantFrom(
        MediaType.OCI_LAYER,
        MediaType.OCI_LAYER_GZIP,
        MediaType.OCI_LAYER_ZSTD,
        'application/vnd.example.thing+json',
      ),
      digest: hex.map((h) => `sha256:${h}`),
      size: fc.nat(),
    });
    const annotations = fc.option(fc.dictionary(fc.string(), fc.string()), { nil: undefined });
    fc.assert(
      fc.property(desc, fc.array(desc, { maxLength: 5 }), annotations, (cfg, layers, ann) => {
        const built = buildManifest({
          config: { ...(cfg as Descriptor), mediaType: MediaType.OCI_CONFIG },
          layers: layers as Descriptor[],
          ...(ann !== undefined ? { annotations: ann } : {}),
        });
        const parsed = parseManifest(built.bytes);
        expect(parsed.digest).toBe(built.descriptor.digest);
        expect(parsed.kind).toBe('manifest');
        if (parsed.kind === 'manifest') {
          expect(parsed.manifest.layers).toEqual(layers);
          expect(parsed.manifest.annotations).toEqual(ann);
        }
        const again = buildManifest({
          config: built.value.config,
          layers: built.value.layers,
          ...(ann !== undefined ? { annotations: ann } : {}),
        });
        expect(again.bytes).toEqual(built.bytes);
      }),
      { numRuns: 200 },
    );
  });
});
