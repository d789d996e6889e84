import { readdir } from 'node:fs/promises';
import { MemoryImageStore } from '@lade/manifest';
import { tempDir } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compressStream, loadArchive, openArchive, type TarWriteEntry, writeTar } from '../src/index.js';
import { collect, streamOf, text } from './helpers.js';

let spool: { path: string; cleanup: () => Promise<void> };
beforeEach(async () => {
  spool = await tempDir('lade-malicious-');
});
afterEach(() => spool.cleanup());

async function tarOf(entries: TarWriteEntry[]): Promise<Uint8Array> {
  return collect(writeTar(entries));
}

/** Opens hostile bytes as a streamed archive and loads them into a store; returns the error. */
async function refuse(
  bytes: Uint8Array,
  options: { maxUncompressedBytes?: number } = {},
): Promise<{ code: string; message: string }> {
  const store = new MemoryImageStore();
  let err: unknown;
  try {
    await loadArchive(streamOf(bytes), (n) => store.sink(n ?? 'x'), { tempDir: spool.path, ...options });
  } catch (e) {
    err = e;
  }
  expect(err, 'the archive must be refused').toBeDefined();
  // nothing loaded, nothing left in the spool directory
  expect(store.blobs.size).toBe(0);
  expect(store.tags.size).toBe(0);
  expect(await readdir(spool.path)).toEqual([]);
  return err as { code: string; message: string };
}

const manifestJson = (config: string, layers: string[]) =>
  text(JSON.stringify([{ Config: config, RepoTags: ['evil:1'], Layers: layers }]));

describe('hostile archives are refused, bounded, and leave nothing behind', () => {
  it('refuses an entry with ../ in its path', async () => {
    const bytes = await tarOf([
      { header: { name: 'layer/../../escape' }, body: 'x' },
      { header: { name: 'manifest.json' }, body: manifestJson('c.json', []) },
    ]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/"layer\/..\/..\/escape": ".." is not allowed/),
    });
  });

  it('refuses an absolute entry path', async () => {
    const bytes = await tarOf([{ header: { name: '/etc/passwd' }, body: 'root' }]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/"\/etc\/passwd": absolute paths are not allowed/),
    });
  });

  it('refuses a symlink pointing out of the archive, before anything is written through it', async () => {
    const bytes = await tarOf([
      { header: { name: 'abc', type: 'symlink', linkname: '../../../etc' } },
      { header: { name: 'abc/layer.tar' }, body: new Uint8Array(1024) },
    ]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/points outside the archive/),
    });
  });

  it('refuses an absolute symlink target', async () => {
    const bytes = await tarOf([{ header: { name: 'manifest.json', type: 'symlink', linkname: '/etc/shadow' } }]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/points outside the archive/),
    });
  });

  it('refuses a manifest.json whose Config path climbs out', async () => {
    const bytes = await tarOf([{ header: { name: 'manifest.json' }, body: manifestJson('../../etc/passwd', []) }]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/Config "..\/..\/etc\/passwd": ".." is not allowed/),
    });
  });

  it('refuses a layer whose header claims more bytes than the stream holds, without allocating them', async () => {
    const good = await tarOf([{ header: { name: 'abc/layer.tar' }, body: new Uint8Array(4096) }]);
    // Rewrite the size field to 64 GiB (base-256) and fix the checksum.
    const h = good.subarray(0, 512);
    h.fill(0, 124, 136);
    h[124] = 0x80;
    h[131] = 0x10; // 0x10 << 32 = 64 GiB
    for (let i = 148; i < 156; i++) h[i] = 0x20;
    let sum = 0;
    for (const b of h) sum += b;
    h.set(text(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    const before = process.memoryUsage().rss;
    expect(await refuse(good)).toMatchObject({
      code: 'TAR_INVALID',
      message: expect.stringMatching(/"abc\/layer.tar".*truncated/),
    });
    expect(process.memoryUsage().rss - before).toBeLessThan(256 << 20);
  });

  it('refuses a metadata file larger than the 4 MiB limit', async () => {
    const bytes = await tarOf([
      { header: { name: 'manifest.json', size: 5 << 20 }, body: streamOf(new Uint8Array(5 << 20).fill(0x20)) },
    ]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/"manifest.json" is 5242880 bytes, more than the 4194304-byte limit/),
    });
  });

  it('stops a gzip bomb at the uncompressed limit', async () => {
    const zeros = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 128; i++) c.enqueue(new Uint8Array(1 << 20));
        c.close();
      },
    });
    const inner = writeTar([{ header: { name: 'abc/layer.tar', size: 128 << 20 }, body: zeros }]);
    const bomb = await collect(compressStream(inner, 'gzip', { level: 9 }));
    expect(bomb.length).toBeLessThan(1 << 20);
    expect(await refuse(bomb, { maxUncompressedBytes: 32 << 20 })).toMatchObject({
      code: 'COMPRESSION_INVALID',
      message: expect.stringMatching(/expands beyond 33554432 bytes/),
    });
  });

  it('refuses device nodes and fifos inside an image archive', async () => {
    const bytes = await tarOf([{ header: { name: 'dev', type: 'char-device', devmajor: 1, devminor: 3 } }]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(/"dev" is a char-device/),
    });
  });

  it('refuses a legacy layer whose content does not match the config diff_id', async () => {
    const config = text(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] },
      }),
    );
    const layer = await tarOf([{ header: { name: 'f' }, body: 'x' }]);
    const bytes = await tarOf([
      { header: { name: 'abc/layer.tar' }, body: layer },
      { header: { name: 'cfg.json' }, body: config },
      { header: { name: 'manifest.json' }, body: manifestJson('cfg.json', ['abc/layer.tar']) },
    ]);
    expect(await refuse(bytes)).toMatchObject({
      code: 'ARCHIVE_INVALID',
      message: expect.stringMatching(
        /layer "abc\/layer.tar" has digest sha256:\w+ but the config's diff_id is sha256:0+/,
      ),
    });
  });

  it('refuses an OCI archive whose blob does not match its digest name', async () => {
    const cfgBytes = text(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    const { hash } = await import('@lade/digest');
    const cfg = hash(cfgBytes);
    const manifest = text(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg, size: cfgBytes.length },
        layers: [],
      }),
    );
    const md = hash(manifest);
    const index = text(
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: md,
            size: manifest.length,
            annotations: { 'org.opencontainers.image.ref.name': 'x' },
          },
        ],
      }),
    );
    const tampered = Uint8Array.from(cfgBytes);
    tampered[2] = 0x41;
    const bytes = await tarOf([
      { header: { name: `blobs/sha256/${cfg.slice(7)}` }, body: tampered },
      { header: { name: `blobs/sha256/${md.slice(7)}` }, body: manifest },
      { header: { name: 'index.json' }, body: index },
      { header: { name: 'oci-layout' }, body: '{"imageLayoutVersion":"1.0.0"}' },
    ]);
    expect(await refuse(bytes)).toMatchObject({ code: 'DIGEST_INVALID' });
  });
});

describe('openArchive on a seekable file', () => {
  it('refuses, at copy time, a legacy layer file whose content does not match the config diff_id; nothing is loaded', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const config = text(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] },
      }),
    );
    const layer = await tarOf([{ header: { name: 'f' }, body: 'x' }]);
    const file = join(spool.path, 'mismatch.tar');
    await writeFile(
      file,
      await tarOf([
        { header: { name: 'abc/layer.tar' }, body: layer },
        { header: { name: 'cfg.json' }, body: config },
        { header: { name: 'manifest.json' }, body: manifestJson('cfg.json', ['abc/layer.tar']) },
      ]),
    );
    const store = new MemoryImageStore();
    await expect(loadArchive(file, (n) => store.sink(n ?? 'x'))).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(store.tags.size).toBe(0);
    expect([...store.blobs.keys()].some((d) => d === `sha256:${'0'.repeat(64)}`)).toBe(false);
  });

  it('refuses a truncated archive file whose last layer claims more than the file holds', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const file = join(spool.path, 'truncated.tar');
    const bytes = await tarOf([{ header: { name: 'abc/layer.tar' }, body: new Uint8Array(10_000) }]);
    await writeFile(file, bytes.subarray(0, 4096));
    await expect(openArchive(file)).rejects.toMatchObject({
      code: 'TAR_INVALID',
      message: expect.stringMatching(/"abc\/layer.tar".*truncated/),
    });
  });

  it('reads layers in place and needs no spool directory', async () => {
    const { join } = await import('node:path');
    const { fixturesDir } = await import('@lade/test-support');
    const archive = await openArchive(join(fixturesDir, 'ggcr/test_bundle.tar'), { tempDir: spool.path });
    expect(await readdir(spool.path)).toEqual([]);
    await archive.close();
  });
});
