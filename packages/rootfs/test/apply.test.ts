import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { compressStream, type TarWriteEntry, writeTar } from '@lade/archive';
import { hash } from '@lade/digest';
import { MediaType, MemoryImageStore } from '@lade/manifest';
import { describeTree, fixturesDir, runOk, tempDir, treeDifferences } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyLayer, flattenImage, type RootfsWarning, readUnpackRecord, unpackImage } from '../src/index.js';

async function tarBytes(entries: TarWriteEntry[]): Promise<Uint8Array> {
  return new Uint8Array(await new Response(writeTar(entries)).arrayBuffer());
}
const streamOf = (bytes: Uint8Array) => new Response(bytes as BodyInit).body as ReadableStream<Uint8Array>;
const file = (name: string, body = `${name}\n`, extra: object = {}): TarWriteEntry => ({
  header: { name, mtime: 1_600_000_000, ...extra },
  body,
});
const dir = (name: string, extra: object = {}): TarWriteEntry => ({
  header: { name, type: 'directory', mtime: 1_500_000_000, ...extra },
});

describe('applyLayer', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  let root: string;
  beforeEach(async () => {
    t = await tempDir('lade-apply-');
    root = join(t.path, 'root');
    await mkdir(root);
  });
  afterEach(() => t.cleanup());
  const apply = async (entries: TarWriteEntry[]) => applyLayer(root, streamOf(await tarBytes(entries)));
  const names = (p = '') => readdirSync(join(root, p)).sort();

  it('writes big files byte for byte whatever the chunking (gzip layer, batched writes), replacing a lower file', async () => {
    const big = new Uint8Array(5 * 1024 * 1024 + 3).map((_, i) => (i * 13 + (i >> 10)) % 256);
    const small = new Uint8Array(1024 * 1024 + 1).map((_, i) => (i * 7) % 251);
    await apply([file('data/big', 'lower content\n'), file('data/edge', small)]);
    const layer = await tarBytes([file('data/big', big, { mode: 0o640 }), file('data/edge', small)]);
    const gz = new Uint8Array(await new Response(compressStream(streamOf(layer), 'gzip')).arrayBuffer());
    const r = await applyLayer(root, streamOf(gz));
    expect(r.compression).toBe('gzip');
    expect(Buffer.from(readFileSync(join(root, 'data/big'))).equals(Buffer.from(big))).toBe(true);
    expect(Buffer.from(readFileSync(join(root, 'data/edge'))).equals(Buffer.from(small))).toBe(true);
    expect(lstatSync(join(root, 'data/big')).mode & 0o777).toBe(0o640);
  });

  it('removes the lower entry for a whiteout, a whole directory included', async () => {
    await apply([dir('etc/'), file('etc/a'), file('etc/b'), dir('opt/'), file('opt/x/y')]);
    await apply([file('etc/.wh.a', ''), file('.wh.opt', '')]);
    expect(names()).toEqual(['etc']);
    expect(names('etc')).toEqual(['b']);
  });

  it("empties a directory's lower content for an opaque whiteout but keeps the same layer's entries, before or after it", async () => {
    await apply([dir('d/'), file('d/lower1'), dir('d/sub/'), file('d/sub/lower2'), file('keep')]);
    await apply([dir('d/'), file('d/sub/same-before'), file('d/.wh..wh..opq', ''), file('d/same-after')]);
    expect(names('d')).toEqual(['same-after', 'sub']);
    expect(names('d/sub')).toEqual(['same-before']);
    expect(names()).toEqual(['d', 'keep']);
  });

  it('keeps setuid, setgid and sticky bits, ownership as root, and mtimes (directories fixed up after their contents)', async () => {
    await apply([
      dir('tmp/', { mode: 0o1777 }),
      dir('ro/', { mode: 0o555, uid: 1000, gid: 1001 }),
      file('ro/tool', '#!/bin/sh\n', { mode: 0o4755, uid: 1000, gid: 1000 }),
      file('ro/group', 'g\n', { mode: 0o2711 }),
    ]);
    const st = (p: string) => lstatSync(join(root, p));
    expect(st('tmp').mode & 0o7777).toBe(0o1777);
    expect(st('ro').mode & 0o7777).toBe(0o555);
    expect(st('ro/tool').mode & 0o7777).toBe(0o4755);
    expect(st('ro/group').mode & 0o7777).toBe(0o2711);
    if (process.getuid?.() === 0) {
      expect([st('ro').uid, st('ro').gid]).toEqual([1000, 1001]);
      expect([st('ro/tool').uid, st('ro/tool').gid]).toEqual([1000, 1000]);
    }
    expect(st('ro').mtimeMs).toBe(1_500_000_000_000);
    expect(st('ro/tool').mtimeMs).toBe(1_600_000_000_000);
  });

  it('creates device nodes and fifos as root', async () => {
    if (process.getuid?.() !== 0) return;
    await apply([
      { header: { name: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 } },
      { header: { name: 'pipe', type: 'fifo', mode: 0o600 } },
    ]);
    const dev = lstatSync(join(root, 'dev/null'));
    expect(dev.isCharacterDevice()).toBe(true);
    expect(dev.rdev).toBe((1 << 8) | 3);
    expect(lstatSync(join(root, 'pipe')).isFIFO()).toBe(true);
  });

  it('applies extended attributes with setfattr where present, and warns once per entry where not', async () => {
    const warnings: RootfsWarning[] = [];
    const bytes = await tarBytes([file('cap', 'x', { xattrs: { 'user.lade': 'yes' } }), file('plain')]);
    await applyLayer(root, streamOf(bytes), { onWarning: (w) => warnings.push(w) });
    // setfattr is optional (Node has no setxattr): either outcome is right, silence is not.
    if (spawnSync('sh', ['-c', 'command -v setfattr && command -v getfattr']).status === 0) {
      expect(warnings).toEqual([]);
      expect(await runOk('getfattr', ['-n', 'user.lade', '--only-values', join(root, 'cap')])).toBe('yes');
    } else {
      expect(warnings.map((w) => [w.code, w.path])).toEqual([['XATTR_SKIPPED', 'cap']]);
      expect(warnings[0]?.message).toContain('setfattr');
    }
    expect(readFileSync(join(root, 'cap'), 'utf8')).toBe('x');
  });

  it('reports the diff_id and accepts gzip, zstd and plain layers alike', async () => {
    const bytes = await tarBytes([file('a'), file('b/c')]);
    const diffId = hash(bytes);
    const plain = await applyLayer(root, streamOf(bytes), { expectedDiffId: diffId });
    expect(plain).toMatchObject({ diffId, size: bytes.length, compression: 'none', entries: 2 });
    const gz = await applyLayer(root, compressStream(streamOf(bytes), 'gzip'), { expectedDiffId: diffId });
    expect(gz).toMatchObject({ diffId, compression: 'gzip' });
    const zst = await applyLayer(
      join(root, 'b'),
      Readable.toWeb(createReadStream(join(fixturesDir, 'ggcr', 'content.tar.zst'))) as ReadableStream<Uint8Array>,
    );
    expect(zst.compression).toBe('zstd');
  });

  it('unpacks the zstd fixture layer as GNU tar extracts it', async () => {
    const ours = join(t.path, 'ours');
    const theirs = join(t.path, 'theirs');
    await mkdir(ours);
    await mkdir(theirs);
    await applyLayer(
      ours,
      Readable.toWeb(createReadStream(join(fixturesDir, 'ggcr', 'content.tar.zst'))) as ReadableStream<Uint8Array>,
    );
    await runOk('tar', ['--zstd', '-xpf', join(fixturesDir, 'ggcr', 'content.tar.zst'), '-C', theirs]);
    expect(treeDifferences(describeTree(ours), describeTree(theirs))).toEqual([]);
    expect(describeTree(ours).length).toBeGreaterThan(0);
  });

  it('rejects a layer whose uncompressed content does not match the diff_id, with DIGEST_INVALID', async () => {
    const bytes = await tarBytes([file('a')]);
    await expect(applyLayer(root, streamOf(bytes), { expectedDiffId: hash('other') })).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
  });

  it('rejects a blob that does not match its descriptor digest', async () => {
    const bytes = await tarBytes([file('a')]);
    await expect(
      applyLayer(root, streamOf(bytes), { expectedBlob: { digest: hash('other'), size: bytes.length } }),
    ).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
  });

  it('hashes trailing bytes after the end-of-archive blocks into the diff_id', async () => {
    const bytes = await tarBytes([file('a')]);
    const padded = new Uint8Array(bytes.length + 10240);
    padded.set(bytes);
    const r = await applyLayer(root, streamOf(padded));
    expect(r.diffId).toBe(hash(padded));
    expect(r.size).toBe(padded.length);
  });
});

describe('unpackImage and flattenImage', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  beforeEach(async () => {
    t = await tempDir('lade-unpack-');
  });
  afterEach(() => t.cleanup());

  async function layeredImage(): Promise<MemoryImageStore> {
    const store = new MemoryImageStore();
    store.putImage({
      tag: 'app',
      layers: [
        await tarBytes([
          dir('etc/'),
          file('etc/passwd'),
          file('etc/gone'),
          dir('var/'),
          file('var/old/log'),
          file('bin/tool', 'x', { mode: 0o755 }),
        ]),
        await tarBytes([
          file('etc/.wh.gone', ''),
          dir('var/'),
          file('var/.wh..wh..opq', ''),
          file('var/new'),
          { header: { name: 'bin/alias', type: 'hardlink', linkname: 'bin/tool' } },
        ]),
        await tarBytes([
          file('etc/passwd', 'root:x:0:0\n'),
          { header: { name: 'link', type: 'symlink', linkname: 'etc/passwd' } },
        ]),
      ],
    });
    return store;
  }

  it('applies every layer in order and records the tree beside it', async () => {
    const store = await layeredImage();
    const dest = join(t.path, 'bundle', 'rootfs');
    const result = await unpackImage(store.source('app'), dest, {
      recordPath: join(t.path, 'bundle', 'lade-unpack.json'),
    });
    expect(result.layers).toHaveLength(3);
    expect(readFileSync(join(dest, 'etc/passwd'), 'utf8')).toBe('root:x:0:0\n');
    expect(existsSync(join(dest, 'etc/gone'))).toBe(false);
    expect(readdirSync(join(dest, 'var'))).toEqual(['new']);
    expect(lstatSync(join(dest, 'bin/alias')).ino).toBe(lstatSync(join(dest, 'bin/tool')).ino);
    const record = await readUnpackRecord(join(t.path, 'bundle', 'lade-unpack.json'));
    expect(record.image?.diffIds).toHaveLength(3);
    expect(record.entries.map((e) => e.path)).toEqual([
      'bin',
      'bin/alias',
      'bin/tool',
      'etc',
      'etc/passwd',
      'link',
      'var',
      'var/new',
    ]);
    expect(readdirSync(join(t.path, 'bundle')).sort()).toEqual(['lade-unpack.json', 'rootfs']);
  });

  it('refuses a target that is not empty, with ROOTFS_EXISTS, and leaves it alone', async () => {
    const store = await layeredImage();
    const dest = join(t.path, 'full');
    await mkdir(join(dest, 'something'), { recursive: true });
    await expect(unpackImage(store.source('app'), dest)).rejects.toMatchObject({ code: 'ROOTFS_EXISTS' });
    expect(readdirSync(dest)).toEqual(['something']);
  });

  it('unpacks into an existing empty directory', async () => {
    const store = await layeredImage();
    const dest = join(t.path, 'empty');
    await mkdir(dest);
    await unpackImage(store.source('app'), dest);
    expect(readdirSync(dest).sort()).toEqual(['bin', 'etc', 'link', 'var']);
  });

  it('flattens to one tar that extracts to the unpacked tree', async () => {
    const store = await layeredImage();
    const unpacked = join(t.path, 'unpacked');
    await unpackImage(store.source('app'), unpacked);
    const tarFile = join(t.path, 'flat.tar');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(tarFile, new Uint8Array(await new Response(flattenImage(store.source('app'))).arrayBuffer()));
    const extracted = join(t.path, 'extracted');
    await mkdir(extracted);
    await runOk('tar', ['-xpf', tarFile, '-C', extracted, '--same-owner']);
    expect(treeDifferences(describeTree(extracted), describeTree(unpacked))).toEqual([]);
    const listing = (await runOk('tar', ['-tf', tarFile])).split('\n');
    expect(listing.some((l) => l.includes('.wh.'))).toBe(false);
  });

  it('unpacks a Docker v2.2 image and picks the platform from an index', async () => {
    const store = new MemoryImageStore();
    const a = store.putImage({
      layers: [await tarBytes([file('arch', 'amd64\n')])],
      format: 'v2s2',
      platform: { os: 'linux', architecture: 'amd64' },
    });
    const b = store.putImage({
      layers: [await tarBytes([file('arch', 'arm64\n')])],
      format: 'v2s2',
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    });
    store.putIndex(
      [
        { descriptor: a.manifest, platform: { os: 'linux', architecture: 'amd64' } },
        { descriptor: b.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      ],
      { tag: 'multi' },
    );
    const dest = join(t.path, 'arm');
    await unpackImage(store.source('multi'), dest, { platform: { os: 'linux', architecture: 'arm64' } });
    expect(readFileSync(join(dest, 'arch'), 'utf8')).toBe('arm64\n');
    expect(a.layers[0]?.mediaType).toBe(MediaType.DOCKER_LAYER);
  });
});
