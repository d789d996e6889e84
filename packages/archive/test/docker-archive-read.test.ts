import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { copy, MemoryImageStore, parseImageConfig, parseManifest } from '@lade/manifest';
import { fixturesDir } from '@lade/test-support';
import { describe, expect, it } from 'vitest';
import { openArchive } from '../src/index.js';
import { streamOf } from './helpers.js';

const ggcr = (f: string) => join(fixturesDir, 'ggcr', f);

async function loadAll(
  input: string | ReadableStream<Uint8Array>,
): Promise<{ store: MemoryImageStore; ids: string[]; names: string[][] }> {
  const archive = await openArchive(input);
  const store = new MemoryImageStore();
  try {
    for (const img of archive.images) await copy(img.source(), store.sink(img.names[0] ?? `untagged-${img.index}`));
  } finally {
    await archive.close();
  }
  return { store, ids: archive.images.map((i) => i.id ?? ''), names: archive.images.map((i) => [...i.names]) };
}

describe('docker-archive fixtures (go-containerregistry testdata)', () => {
  it('loads the legacy test_image_1.tar with the image ID and diff_ids it declares', async () => {
    const { store, ids, names } = await loadAll(ggcr('test_image_1.tar'));
    expect(ids).toEqual(['sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e']);
    expect(names).toEqual([['bazel/v1/tarball:test_image_1']]);
    const root = store.tags.get('bazel/v1/tarball:test_image_1')!;
    const manifest = parseManifest(store.manifests.get(root.digest)!.bytes);
    if (manifest.kind !== 'manifest') throw new Error('expected a manifest');
    const config = parseImageConfig(store.blobs.get(manifest.manifest.config.digest)!);
    expect(manifest.manifest.layers.map((l) => l.digest)).toEqual(config.config.rootfs.diff_ids);
    expect(manifest.manifest.layers[0]!.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar');
  });

  it('loads every image of test_bundle.tar', async () => {
    const { store, ids, names } = await loadAll(ggcr('test_bundle.tar'));
    expect(names).toEqual([['test_image_2:latest'], ['test_image_1:latest']]);
    expect(ids).toEqual([
      'sha256:930705ce23e3b6ed4c08746b6fe880089c864fbaf62482702ae3fdd66b8c7fe9',
      'sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e',
    ]);
    expect(store.tags.size).toBe(2);
    expect([...store.blobs.keys()]).toContain(
      'sha256:3610aa5267a210147ba6ca02cdd87610dfc08522de9c5f5015edd8ee14853fd8',
    );
  });

  for (const f of ['whiteout_image.tar', 'overwritten_file.tar']) {
    it(`loads ${f} with layers matching the config's diff_ids`, async () => {
      const { store, ids } = await loadAll(ggcr(f));
      const config = parseImageConfig(store.blobs.get(ids[0] as never)!);
      for (const d of config.config.rootfs.diff_ids) expect(store.blobs.has(d)).toBe(true);
      expect(config.digest).toBe(ids[0]);
    });
  }

  it('loads the Docker 25 save hello-world-v25.tar keeping its OCI manifest digest', async () => {
    const archive = await openArchive(ggcr('hello-world-v25.tar'));
    expect(archive.layout).toBe('docker');
    expect(archive.images).toHaveLength(1);
    expect(archive.images[0]!.id).toBe('sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44');
    expect(archive.images[0]!.descriptor.digest).toBe(
      'sha256:411caf340c828657e915a83ed561a79d2b8150dabad4dc079d881cbfe6f86afe',
    );
    expect(archive.images[0]!.names).toEqual([]);
    const store = new MemoryImageStore();
    await copy(archive.source(), store.sink('hello:v25'));
    expect(store.blobs.has('sha256:12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43' as never)).toBe(
      true,
    );
    await archive.close();
  });

  it('reads the same images from a non-seekable stream and from a gzip-compressed save', async () => {
    const bytes = await readFile(ggcr('test_bundle.tar'));
    const fromStream = await loadAll(streamOf(bytes, 1000));
    const fromGzip = await loadAll(streamOf(gzipSync(bytes), 777));
    const fromFile = await loadAll(ggcr('test_bundle.tar'));
    expect(fromStream.ids).toEqual(fromFile.ids);
    expect(fromGzip.ids).toEqual(fromFile.ids);
    expect([...fromGzip.store.manifests.keys()]).toEqual([...fromFile.store.manifests.keys()]);
  });

  it('rejects no_manifest.tar with a clear error and loads nothing', async () => {
    const store = new MemoryImageStore();
    await expect(openArchive(ggcr('no_manifest.tar'))).rejects.toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/no_manifest.tar has neither manifest.json nor index.json/),
    });
    expect(store.blobs.size).toBe(0);
  });

  it('rejects null_manifest.tar with a clear error and loads nothing', async () => {
    await expect(openArchive(ggcr('null_manifest.tar'))).rejects.toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/manifest.json is null/),
    });
  });

  it('selects an image by name, by ID prefix and by index', async () => {
    const archive = await openArchive(ggcr('test_bundle.tar'));
    expect((await archive.source('test_image_1').resolve()).digest).toBe(archive.images[1]!.descriptor.digest);
    expect((await archive.source('930705ce23e3').resolve()).digest).toBe(archive.images[0]!.descriptor.digest);
    expect((await archive.source(1).resolve()).digest).toBe(archive.images[1]!.descriptor.digest);
    expect(() => archive.source()).toThrow(/holds 2 images/);
    expect(() => archive.source('nope')).toThrow(/has no image "nope"/);
    await archive.close();
  });

  it('reads gzip layers named in manifest.json (ggcr tarball style), larger than the metadata limit', async () => {
    const { randomBytes, createHash } = await import('node:crypto');
    const { writeTar } = await import('../src/index.js');
    const { collect } = await import('./helpers.js');
    const layerTar = await collect(writeTar([{ header: { name: 'random.bin' }, body: randomBytes(5 << 20) }]));
    const gz = gzipSync(layerTar, { level: 1 });
    const diffId = `sha256:${createHash('sha256').update(layerTar).digest('hex')}`;
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [diffId] },
    });
    const archive = await collect(
      writeTar([
        { header: { name: 'layer0.tar.gz' }, body: gz },
        { header: { name: 'cfg.json' }, body: config },
        {
          header: { name: 'manifest.json' },
          body: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['gz:1'], Layers: ['layer0.tar.gz'] }]),
        },
      ]),
    );
    const opened = await openArchive(streamOf(archive));
    const store = new MemoryImageStore();
    await copy(opened.source(), store.sink('gz:1'));
    const m = parseManifest(store.manifests.get(opened.images[0]!.descriptor.digest)!.bytes);
    if (m.kind !== 'manifest') throw new Error('manifest expected');
    expect(m.manifest.layers[0]).toMatchObject({
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      size: gz.length,
      digest: `sha256:${createHash('sha256').update(gz).digest('hex')}`,
    });
    await opened.close();
  });

  it('reads the ggcr test_index OCI layout, tarred, as an oci-archive with nested indexes', async () => {
    const { runOk, tempDir } = await import('@lade/test-support');
    const tmp = await tempDir('lade-test-index-');
    const file = join(tmp.path, 'test_index.tar');
    await runOk('tar', ['-cf', file, '-C', ggcr('test_index'), '.']);
    const archive = await openArchive(file);
    expect(archive.format).toBe('oci');
    expect(archive.images.map((i) => i.names[0])).toEqual(['1', '2', '3', '4']);
    const store = new MemoryImageStore();
    await copy(archive.source('1'), store.sink('one:1'));
    await copy(archive.source('3'), store.sink('three:1'), { all: true });
    await copy(archive.source('4'), store.sink('four:1'), { all: true });
    expect(
      store.manifests.has('sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5' as never),
    ).toBe(true);
    expect(
      store.manifests.has('sha256:2b29a2b8dea3af91ea7d0154be1da0c92d55ddd098540930fc8d3db7de377fdb' as never),
    ).toBe(true);
    // entry 2 is typed as a plain descriptor, but its content is an image manifest; copy goes by the content
    await copy(archive.source('2'), store.sink('two:1'));
    expect(store.tags.size).toBe(4);
    await archive.close();
    await tmp.cleanup();
  });
});
