// Real manifests written by other tools: go-containerregistry's test layout and the umoci/skopeo-built peer fixtures.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hash } from '@lade/digest';
import { fixturesDir, peerFixtures, peersAvailable } from '@lade/test-support';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  copy,
  MediaType,
  MemoryImageStore,
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  parseManifest,
  parsePlatform,
  selectManifest,
} from '../src/index.js';
import { layoutSource, readBlob, readLayoutIndex } from './layout.js';

const ggcr = join(fixturesDir, 'ggcr', 'test_index');

describe('go-containerregistry test_index layout', () => {
  it('parses index.json (no mediaType in the body) as an OCI index with four entries', async () => {
    const index = parseImageIndex(new Uint8Array(await readFile(join(ggcr, 'index.json'))));
    expect(index.mediaType).toBe(MediaType.OCI_INDEX);
    expect(index.index.manifests.map((d) => d.annotations?.['org.opencontainers.image.ref.name'])).toEqual([
      '1',
      '2',
      '3',
      '4',
    ]);
    expect(index.index.manifests[1]?.mediaType).toBe('application/vnd.oci.descriptor.v1+json');
  });

  it('every blob that is a manifest parses with the digest of its file name; configs parse as configs', async () => {
    const names = await readdir(join(ggcr, 'blobs', 'sha256'));
    let manifests = 0;
    let configs = 0;
    for (const name of names) {
      const b = await readBlob(ggcr, `sha256:${name}`);
      expect(hash(b)).toBe(`sha256:${name}`);
      if (b[0] !== 0x7b) continue;
      const json = JSON.parse(new TextDecoder().decode(b));
      if ('rootfs' in json) {
        const c = parseImageConfig(b);
        expect(c.digest).toBe(`sha256:${name}`);
        expect(c.config.architecture).toBe('amd64');
        expect(c.config.history?.[0]?.created_by).toBe('bazel build ...');
        configs++;
      } else {
        expect(parseManifest(b).digest).toBe(`sha256:${name}`);
        manifests++;
      }
    }
    expect(manifests).toBe(4);
    expect(configs).toBe(2);
  });

  it('parses the Docker v2.2 manifest and the Docker manifest list', async () => {
    const m = parseImageManifest(
      await readBlob(ggcr, 'sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650'),
    );
    expect(m.mediaType).toBe(MediaType.DOCKER_MANIFEST);
    expect(m.manifest.config.mediaType).toBe(MediaType.DOCKER_CONFIG);
    expect(m.manifest.layers[0]?.size).toBe(167);
    const l = parseImageIndex(
      await readBlob(ggcr, 'sha256:2b29a2b8dea3af91ea7d0154be1da0c92d55ddd098540930fc8d3db7de377fdb'),
    );
    expect(l.index.manifests).toHaveLength(1);
  });

  it('notices that index.json calls a Docker manifest an OCI one, and trusts the body when told to', async () => {
    const b = await readBlob(ggcr, 'sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650');
    expect(() => parseManifest(b, MediaType.OCI_MANIFEST)).toThrow(
      /served as application\/vnd.oci.image.manifest.v1\+json but its mediaType is application\/vnd.docker/,
    );
    expect(parseManifest(b, { contentType: MediaType.OCI_MANIFEST, preferBody: true }).mediaType).toBe(
      MediaType.DOCKER_MANIFEST,
    );
  });

  it('copies every tag into memory, the nested index "3" by reading the configs of its platform-less entries', async () => {
    for (const tag of ['1', '2', '3', '4']) {
      const dst = new MemoryImageStore();
      const r = await copy(layoutSource(ggcr, tag), dst.sink(tag), { platform: 'linux/amd64' });
      expect(r.root.mediaType).toBe(MediaType.DOCKER_MANIFEST);
      expect(dst.getManifest(r.root.digest)?.bytes).toEqual(await readBlob(ggcr, r.root.digest));
      expect(r.blobs).toBe(2);
    }
  });

  it('copies index "3" with all, keeping the index bytes', async () => {
    const dst = new MemoryImageStore();
    const r = await copy(layoutSource(ggcr, '3'), dst.sink('3'), { all: true });
    expect(r.root.digest).toBe('sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5');
    expect(r.manifests).toHaveLength(2);
  });
});

describe.runIf(peersAvailable('umoci', 'skopeo', 'jq'))('peer fixtures (umoci + skopeo layout)', () => {
  let layout = '';
  beforeAll(async () => {
    layout = await peerFixtures({ big: 8 });
  });

  it('parses every manifest and config umoci wrote (umoci omits mediaType in manifests)', async () => {
    const index = await readLayoutIndex(layout);
    for (const d of index.manifests) {
      const p = parseManifest(await readBlob(layout, d.digest), d.mediaType);
      expect(p.digest).toBe(d.digest);
      expect(p.size).toBe(d.size);
      if (p.kind === 'manifest') {
        const c = parseImageConfig(await readBlob(layout, p.manifest.config.digest), { expected: p.manifest.config });
        expect(c.config.rootfs.diff_ids).toHaveLength(p.manifest.layers.length);
        expect(c.config.config?.Cmd).toEqual(['/bin/sh']);
        expect(c.config.author).toBe('lade-fixtures');
      }
    }
  });

  it('selects the arm64 and amd64 images of the multi index', async () => {
    const index = await readLayoutIndex(layout);
    const multi = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'multi')!;
    const arm = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'arm64')!;
    const amd = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'amd64')!;
    const parsed = parseImageIndex(await readBlob(layout, multi.digest));
    expect(selectManifest(parsed.index, parsePlatform('linux/arm64')).digest).toBe(arm.digest);
    expect(selectManifest(parsed.index, parsePlatform('linux/aarch64')).digest).toBe(arm.digest);
    expect(selectManifest(parsed.index, parsePlatform('linux/amd64')).digest).toBe(amd.digest);
    expect(() => selectManifest(parsed.index, parsePlatform('linux/arm/v7'))).toThrow(
      'no matching manifest for linux/arm/v7 in the manifest list entries',
    );
  });

  it('copies multi with all and big with 4 concurrent layers from the layout, verifying every byte', async () => {
    const dst = new MemoryImageStore();
    const r = await copy(layoutSource(layout, 'multi'), dst.sink('multi'), { all: true });
    expect(r.manifests).toHaveLength(3);
    expect(r.blobs).toBe(4);
    const big = await copy(layoutSource(layout, 'big'), dst.sink('big'), { concurrency: 4 });
    expect(big.blobs).toBe(5);
    expect(big.bytes).toBeGreaterThan(8 * 1024 * 1024);
    for (const [digest, bytes] of dst.blobs) expect(hash(bytes)).toBe(digest);
  });
});
