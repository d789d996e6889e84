import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { copy, MemoryImageStore, parseManifest } from '@lade/manifest';
import { fixturesDir, runOk, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ArchiveFormat,
  archiveFileSink,
  createArchiveWriter,
  loadArchive,
  openArchive,
  readTar,
  saveImages,
} from '../src/index.js';
import { collect, fileStream, streamOf } from './helpers.js';

const ggcr = (f: string) => join(fixturesDir, 'ggcr', f);
let tmp: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir('lade-archive-write-');
});
afterAll(() => tmp.cleanup());

async function storeFrom(file: string): Promise<MemoryImageStore> {
  const store = new MemoryImageStore();
  await loadArchive(file, (name) => store.sink(name ?? 'untagged'));
  return store;
}

async function listNames(file: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of readTar(fileStream(file))) names.push(e.header.name);
  return names;
}

describe('saveImages', () => {
  it('saves hello-world-v25 back with identical manifest, config and layer digests (Docker 25+ layout)', async () => {
    const original = await openArchive(ggcr('hello-world-v25.tar'));
    const out = join(tmp.path, 'hello-saved.tar');
    const result = await saveImages([{ source: original.source(), names: ['hello-world:latest'] }], out);
    await original.close();
    expect(result.images[0]).toMatchObject({
      id: 'sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44',
      names: ['hello-world:latest'],
    });
    const again = await openArchive(out);
    expect(again.layout).toBe('docker');
    expect(again.images[0]).toMatchObject({
      id: original.images[0]!.id,
      descriptor: { digest: original.images[0]!.descriptor.digest },
      names: ['hello-world:latest'],
    });
    const manifestJson = JSON.parse(await runOk('tar', ['-xOf', out, 'manifest.json']));
    expect(manifestJson).toEqual([
      {
        Config: 'blobs/sha256/ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44',
        Layers: ['blobs/sha256/12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43'],
        RepoTags: ['hello-world:latest'],
      },
    ]);
    const index = JSON.parse(await runOk('tar', ['-xOf', out, 'index.json']));
    expect(index.manifests[0].annotations).toEqual({
      'io.containerd.image.name': 'docker.io/library/hello-world:latest',
      'org.opencontainers.image.ref.name': 'latest',
    });
    expect(JSON.parse(await runOk('tar', ['-xOf', out, 'repositories']))).toEqual({
      'hello-world': { latest: '12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43' },
    });
    await again.close();
  });

  it('writes byte-identical archives for the same images', async () => {
    const a = join(tmp.path, 'det-a.tar');
    const b = join(tmp.path, 'det-b.tar');
    for (const out of [a, b]) {
      const src = await openArchive(ggcr('test_bundle.tar'));
      await saveImages(
        src.images.map((i) => ({ source: i.source(), names: i.names })),
        out,
      );
      await src.close();
    }
    expect((await readFile(a)).equals(await readFile(b))).toBe(true);
  });

  it('writes the same bytes whichever blob the source delivers first', async () => {
    const mem = new MemoryImageStore();
    const enc = new TextEncoder();
    mem.putImage({ tag: 'app:1', layers: ['one', 'two', 'three', 'four'].map((l) => enc.encode(l.repeat(1000))) });
    const outs: Buffer[] = [];
    for (const order of ['forward', 'reverse'] as const) {
      const source = mem.source('app:1');
      let n = 0;
      // Opening each blob takes longer the earlier (or later) it is asked for, so reads finish in different orders.
      const skewed = {
        ...source,
        openBlob: async (d: Parameters<typeof source.openBlob>[0], o?: Parameters<typeof source.openBlob>[1]) => {
          const i = n++;
          await new Promise((r) => setTimeout(r, order === 'forward' ? i * 15 : (6 - i) * 15));
          return source.openBlob(d, o);
        },
      };
      const out = join(tmp.path, `order-${order}.tar`);
      await saveImages([{ source: skewed, names: ['app:1'] }], out);
      outs.push(await readFile(out));
    }
    expect(outs[0]!.equals(outs[1]!)).toBe(true);
  });

  for (const format of ['docker', 'docker-legacy', 'oci'] as ArchiveFormat[]) {
    it(`round-trips several images through the ${format} format with the same image IDs and diff_ids`, async () => {
      const src = await openArchive(ggcr('test_bundle.tar'));
      const out = join(tmp.path, `bundle-${format}.tar`);
      await saveImages(
        src.images.map((i) => ({
          source: i.source(),
          names: format === 'oci' ? [i.names[0]!.split(':')[0]!] : i.names,
        })),
        out,
        { format },
      );
      const back = await openArchive(out);
      expect(back.layout).toBe(format);
      expect(back.images.map((i) => i.names)).toEqual(
        format === 'oci' ? [['test_image_2'], ['test_image_1']] : src.images.map((i) => i.names),
      );
      const store = await storeFrom(out);
      for (const img of src.images) {
        const configBlob = store.blobs.get(img.id!);
        expect(configBlob, `config ${img.id}`).toBeDefined();
      }
      if (format !== 'oci') expect(back.images.map((i) => i.id)).toEqual(src.images.map((i) => i.id));
      else expect(back.images.map((i) => i.descriptor.digest)).toEqual(src.images.map((i) => i.descriptor.digest));
      await back.close();
      await src.close();
    });
  }

  it('writes the legacy layout docker load < 25 expects', async () => {
    const src = await openArchive(ggcr('test_image_1.tar'));
    const out = join(tmp.path, 'legacy.tar');
    expect(createArchiveWriter({ format: 'legacy' }).format).toBe('docker-legacy');
    await saveImages([{ source: src.source(), names: ['app:1'] }], out, { format: 'legacy' });
    const names = await listNames(out);
    expect(names.filter((n) => n.endsWith('/layer.tar'))).toHaveLength(1);
    expect(names).toContain('6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e.json');
    expect(names.slice(-2)).toEqual(['manifest.json', 'repositories']);
    // spooled blobs share one spool directory, removed at the end
    const spoolParent = join(tmp.path, 'spool-parent');
    await mkdir(spoolParent);
    const bundle = await openArchive(ggcr('test_bundle.tar'));
    await saveImages(
      bundle.images.map((i) => ({ source: i.source(), names: i.names })),
      join(tmp.path, 'legacy-bundle.tar'),
      { format: 'legacy', tempDir: spoolParent },
    );
    expect(await readdir(spoolParent)).toEqual([]);
    await bundle.close();
    await src.close();
  });

  it('decompresses gzip layers into the legacy layout so layer digests equal diff_ids', async () => {
    const store = new MemoryImageStore();
    const tar = await collect(new Response(await readFile(join(fixturesDir, 'ggcr/test_image_1.tar'))).body!);
    const { gzipSync } = await import('node:zlib');
    const layer = gzipSync(tar);
    store.putImage({ layers: [tar], tag: 'plain:1' });
    const plain = store.tags.get('plain:1')!;
    const pm = parseManifest(store.manifests.get(plain.digest)!.bytes);
    if (pm.kind !== 'manifest') throw new Error('manifest expected');
    // Build the same image with a gzip layer.
    const gzDesc = store.putBlob(layer, 'application/vnd.oci.image.layer.v1.tar+gzip');
    const { buildManifest } = await import('@lade/manifest');
    const m = buildManifest({ config: pm.manifest.config, layers: [gzDesc] });
    store.putManifest(m.bytes, 'gz:1');
    const out = join(tmp.path, 'gz-legacy.tar');
    await saveImages([{ source: store.source('gz:1'), names: ['gz:1'] }], out, { format: 'docker-legacy' });
    const back = await openArchive(out);
    expect(back.images[0]!.id).toBe(pm.manifest.config.digest);
    await back.close();
  });

  it('writes a gzip-compressed archive that loads like the plain one', async () => {
    const src = await openArchive(ggcr('test_bundle.tar'));
    const out = join(tmp.path, 'bundle.tar.gz');
    await saveImages(
      src.images.map((i) => ({ source: i.source(), names: i.names })),
      out,
      { compression: 'gzip' },
    );
    const back = await openArchive(out);
    expect(back.compression).toBe('gzip');
    expect(back.images.map((i) => i.id)).toEqual(src.images.map((i) => i.id));
    await back.close();
    await src.close();
  });

  for (const format of ['docker', 'docker-legacy', 'oci'] as ArchiveFormat[]) {
    it(`refuses a corrupt layer with DIGEST_INVALID and leaves no ${format} file behind (the writer verifies)`, async () => {
      const store = new MemoryImageStore();
      const { manifest } = store.putImage({ layers: [new Uint8Array(2048)], tag: 'broken:1' });
      const parsed = parseManifest(store.manifests.get(manifest.digest)!.bytes);
      if (parsed.kind !== 'manifest') throw new Error('manifest expected');
      store.putBlobUnchecked(parsed.manifest.layers[0]!.digest, new Uint8Array(2048).fill(1));
      const out = join(tmp.path, `never-${format}.tar`);
      await expect(
        saveImages([{ source: store.source('broken:1'), names: ['broken:1'] }], out, { format }),
      ).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  }

  it('writes the same bytes to a file (blobs hashed back from it on a worker) as to a stream (hashed inline)', async () => {
    const store = new MemoryImageStore();
    const big = (k: number) => new Uint8Array(3 * 1024 * 1024 + k).map((_, i) => (i * (k + 3)) % 256);
    store.putImage({ layers: [big(1), big(2), new Uint8Array(10)], tag: 'multi:1' });
    for (const format of ['docker', 'oci'] as ArchiveFormat[]) {
      const out = join(tmp.path, `same-${format}.tar`);
      await saveImages([{ source: store.source('multi:1'), names: ['multi:1'] }], out, { format });
      const w = createArchiveWriter({ format });
      const streamed = collect(w.readable);
      await copy(store.source('multi:1'), w.sink(['multi:1']), { concurrency: 1 });
      await w.finish();
      expect(Buffer.from(await readFile(out)).equals(Buffer.from(await streamed))).toBe(true);
    }
  });

  it('refuses a corrupt multi-MiB blob found only when hashed back from the file, naming it, and leaves no file or temp file', async () => {
    const store = new MemoryImageStore();
    const good = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 253);
    const { manifest } = store.putImage({ layers: [good, new Uint8Array(5 * 1024 * 1024 + 3)], tag: 'late:1' });
    const parsed = parseManifest(store.manifests.get(manifest.digest)!.bytes);
    if (parsed.kind !== 'manifest') throw new Error('manifest expected');
    const bad = parsed.manifest.layers[1]!.digest;
    store.putBlobUnchecked(bad, new Uint8Array(5 * 1024 * 1024 + 3).fill(7));
    const dir = join(tmp.path, 'late');
    await mkdir(dir);
    const out = join(dir, 'never.tar');
    const err = await saveImages([{ source: store.source('late:1'), names: ['late:1'] }], out).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIGEST_INVALID' });
    expect((err as Error).message).toMatch(
      new RegExp(`^blob ${bad}: content digest sha256:[0-9a-f]{64} does not match`),
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it('refuses to save nothing', async () => {
    await expect(saveImages([], join(tmp.path, 'empty.tar'))).rejects.toMatchObject({ code: 'ARCHIVE_INVALID' });
  });

  it('archiveFileSink writes one image for copy and discards an abandoned file', async () => {
    const src = await openArchive(ggcr('test_image_1.tar'));
    const out = join(tmp.path, 'copied.tar');
    const sink = archiveFileSink(out, { names: ['copied:1'] });
    await copy(src.source(), sink);
    await sink.close!();
    expect((await openArchive(out)).images[0]!.names).toEqual(['copied:1']);
    const abandoned = join(tmp.path, 'abandoned.tar');
    const s2 = archiveFileSink(abandoned);
    await s2.close!();
    await expect(stat(abandoned)).rejects.toMatchObject({ code: 'ENOENT' });
    await src.close();
  });

  it('createArchiveWriter streams to any consumer', async () => {
    const src = await openArchive(ggcr('test_image_1.tar'));
    const w = createArchiveWriter({ format: 'oci' });
    const bytes = collect(w.readable);
    await copy(src.source(), w.sink(['one']));
    await w.finish();
    const back = await openArchive(streamOf(await bytes));
    expect(back.format).toBe('oci');
    expect(back.images[0]!.names).toEqual(['one']);
    await back.close();
    await src.close();
  });
});

describe('loadArchive', () => {
  it('reports docker load lines: names, untagged IDs, and layers that already existed', async () => {
    const store = new MemoryImageStore();
    const first = await loadArchive(ggcr('test_bundle.tar'), (name) => store.sink(name ?? 'x'));
    expect(first.lines).toEqual(['Loaded image: test_image_2:latest', 'Loaded image: test_image_1:latest']);
    expect(first.existingLayers).toEqual([]);
    const second = await loadArchive(ggcr('test_image_1.tar'), (name) => store.sink(name ?? 'x'));
    expect(second.existingLayers).toEqual(['sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17']);
    const untagged = await loadArchive(ggcr('hello-world-v25.tar'), () => store.sink('hello:untagged'));
    expect(untagged.lines).toEqual([
      'Loaded image ID: sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44',
    ]);
  });

  it('passes streamed Docker 25+ blobs straight to the blob sink, spooling nothing', async () => {
    const src = await openArchive(ggcr('test_bundle.tar'));
    const w = createArchiveWriter();
    const bytes = collect(w.readable);
    for (const img of src.images) await copy(img.source(), w.sink(img.names));
    await w.finish();
    await src.close();
    const store = new MemoryImageStore();
    // A temp dir that cannot exist: any spooling would fail.
    const result = await loadArchive(streamOf(await bytes, 3000), (name) => store.sink(name ?? 'x'), {
      blobSink: store.sink('blobs-only'),
      tempDir: '/nonexistent/lade',
    });
    expect(result.lines).toEqual(['Loaded image: test_image_2:latest', 'Loaded image: test_image_1:latest']);
    expect(store.tags.has('blobs-only')).toBe(false);
    expect(store.blobs.has('sha256:3610aa5267a210147ba6ca02cdd87610dfc08522de9c5f5015edd8ee14853fd8' as never)).toBe(
      true,
    );
  });

  it('spools a streamed archive without a blob sink, and fails cleanly when it cannot', async () => {
    const bytes = await readFile(ggcr('test_image_1.tar'));
    const store = new MemoryImageStore();
    // legacy <id>/layer.tar members of a stream always spool (their digest is known only after hashing)
    await expect(
      loadArchive(streamOf(bytes), (n) => store.sink(n ?? 'x'), { tempDir: '/nonexistent/lade' }),
    ).rejects.toMatchObject({
      code: 'SPOOL_FAILED',
      message: expect.stringMatching(/cannot spool the archive's layers in \/nonexistent\/lade/),
    });
    expect(store.blobs.size).toBe(0);
    const ok = await loadArchive(streamOf(bytes), (n) => store.sink(n ?? 'x'));
    expect(ok.lines).toEqual(['Loaded image: bazel/v1/tarball:test_image_1']);
  });

  it('archiveSource opens lazily, copies one image and cleans up on close', async () => {
    const { archiveSource } = await import('../src/index.js');
    const source = archiveSource(ggcr('test_bundle.tar'), 'test_image_1:latest');
    const store = new MemoryImageStore();
    await copy(source, store.sink('one:1'));
    await source.close!();
    expect(store.tags.has('one:1')).toBe(true);
    await expect(archiveSource(ggcr('test_bundle.tar')).resolve()).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      message: expect.stringMatching(/holds 2 images/),
    });
  });

  it('answers BLOB_UNKNOWN for a blob the archive does not hold', async () => {
    const archive = await openArchive(ggcr('test_image_1.tar'));
    await expect(
      archive.source().openBlob({ mediaType: 'x', digest: `sha256:${'1'.repeat(64)}` as never, size: 1 }),
    ).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    await archive.close();
  });

  it('refuses a docker archive missing a foreign layer, which docker load could not load', async () => {
    const store = new MemoryImageStore();
    const { manifest } = store.putImage({ layers: [new Uint8Array(1024)], tag: 'f:1' });
    const parsed = parseManifest(store.manifests.get(manifest.digest)!.bytes);
    if (parsed.kind !== 'manifest') throw new Error('manifest expected');
    const { buildManifest } = await import('@lade/manifest');
    const layer = parsed.manifest.layers[0]!;
    const foreign = buildManifest({
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { ...parsed.manifest.config, mediaType: 'application/vnd.docker.container.image.v1+json' },
      layers: [
        {
          ...layer,
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          urls: ['https://example.com/layer'],
        },
      ],
    });
    store.putManifest(foreign.bytes, 'foreign:1');
    const out = join(tmp.path, 'foreign.tar');
    await expect(saveImages([{ source: store.source('foreign:1'), names: ['foreign:1'] }], out)).rejects.toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/docker load needs every layer/),
    });
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
