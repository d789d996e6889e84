import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { hash } from '@lade/digest';
import { fixturesDir, peersAvailable, runOk } from '@lade/test-support';
import { describe, expect, it } from 'vitest';
import {
  compressLayer,
  compressStream,
  decompress,
  decompressStream,
  detectCompression,
  layerDigestStream,
  readTar,
} from '../src/index.js';
import { collect, streamOf, text } from './helpers.js';

const sample = (n: number): Uint8Array => {
  const out = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = (x >>> 24) & 0x3f; // compressible but not trivial
  }
  return out;
};

describe('compression', () => {
  it('detects gzip, zstd and none by magic bytes', () => {
    expect(detectCompression(new Uint8Array([0x1f, 0x8b, 8, 0]))).toBe('gzip');
    expect(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(detectCompression(text('ustar'))).toBe('none');
    expect(detectCompression(new Uint8Array([0x1f]))).toBe('none');
  });

  for (const backend of ['node', 'portable'] as const) {
    it(`round-trips gzip with the ${backend} backend, across chunkings`, async () => {
      const data = sample(300_000);
      const gz = await collect(compressStream(streamOf(data, 1000), 'gzip', { backend, level: 1 }));
      expect(detectCompression(gz)).toBe('gzip');
      for (const chunk of [1, 7, 4096]) {
        const out = await decompress(streamOf(gz, chunk), { backend });
        expect(out.compression).toBe('gzip');
        expect(Buffer.from(await collect(out.stream)).equals(Buffer.from(data))).toBe(true);
      }
    });

    it(`decompresses the zstd fixture with the ${backend} backend`, async () => {
      const zst = await readFile(join(fixturesDir, 'ggcr/content.tar.zst'));
      const out = await decompress(streamOf(zst, 10), { backend });
      expect(out.compression).toBe('zstd');
      const names: string[] = [];
      for await (const e of readTar(out.stream)) names.push(e.header.name);
      expect(names.length).toBeGreaterThan(0);
    });

    it(`rejects corrupt and truncated gzip with COMPRESSION_INVALID (${backend})`, async () => {
      const gz = gzipSync(sample(100_000));
      await expect(
        collect(decompressStream(streamOf(gz.subarray(0, gz.length - 100)), 'gzip', { backend, name: 'layer x' })),
      ).rejects.toMatchObject({
        code: 'COMPRESSION_INVALID',
        message: expect.stringMatching(/^layer x: the gzip data is corrupt or truncated/),
      });
      const bad = Uint8Array.from(gz);
      bad.fill(0xaa, 20, 60);
      await expect(collect(decompressStream(streamOf(bad), 'gzip', { backend }))).rejects.toMatchObject({
        code: 'COMPRESSION_INVALID',
      });
    });

    it(`stops a gzip bomb at maxOutputBytes without holding its output (${backend})`, async () => {
      // 256 MiB of zeros in ~256 KiB of gzip.
      const bomb = await collect(
        compressStream(
          new ReadableStream({
            start(c) {
              for (let i = 0; i < 256; i++) c.enqueue(new Uint8Array(1 << 20));
              c.close();
            },
          }),
          'gzip',
          { backend: 'node' },
        ),
      );
      expect(bomb.length).toBeLessThan(1 << 20);
      const before = process.memoryUsage().rss;
      await expect(
        collect(decompressStream(streamOf(bomb), 'gzip', { backend, maxOutputBytes: 16 << 20, name: 'bomb.tar.gz' })),
      ).rejects.toMatchObject({
        code: 'COMPRESSION_INVALID',
        message: expect.stringMatching(/bomb.tar.gz: expands beyond 16777216 bytes/),
      });
      expect(process.memoryUsage().rss - before).toBeLessThan(200 << 20);
    });
  }

  it('passes uncompressed data through sniffing untouched', async () => {
    const data = sample(10_000);
    const out = await decompress(streamOf(data, 3));
    expect(out.compression).toBe('none');
    expect(await collect(out.stream)).toEqual(data);
  });

  it('hashes a gzip layer as stored and uncompressed in one pass', async () => {
    const tar = sample(200_000);
    const gz = gzipSync(tar);
    const d = layerDigestStream();
    const passed = await collect(streamOf(gz, 5000).pipeThrough(d));
    expect(Buffer.from(passed).equals(gz)).toBe(true);
    expect(await d.result).toEqual({
      compression: 'gzip',
      digest: hash(gz),
      size: gz.length,
      diffId: hash(tar),
      uncompressedSize: tar.length,
    });
  });

  it('hashes an uncompressed layer once: its digest is its diff_id', async () => {
    const tar = sample(1000);
    const d = layerDigestStream();
    await collect(streamOf(tar, 1).pipeThrough(d));
    expect(await d.result).toMatchObject({ compression: 'none', digest: hash(tar), diffId: hash(tar), size: 1000 });
  });

  it('fails the one-pass hash on a corrupt gzip layer', async () => {
    const gz = gzipSync(sample(100_000));
    const d = layerDigestStream();
    await expect(collect(streamOf(gz.subarray(0, 5000)).pipeThrough(d))).rejects.toMatchObject({
      code: 'COMPRESSION_INVALID',
    });
  });

  it('compresses a layer and reports its digest and diff_id', async () => {
    const tar = sample(50_000);
    const { stream, result } = compressLayer(streamOf(tar), 'gzip');
    const gz = await collect(stream);
    expect(await result).toMatchObject({
      compression: 'gzip',
      digest: hash(gz),
      size: gz.length,
      diffId: hash(tar),
      uncompressedSize: tar.length,
    });
  });

  it('gzip output is deterministic for the same input and level', async () => {
    const data = sample(100_000);
    const a = await collect(compressStream(streamOf(data, 999), 'gzip'));
    const b = await collect(compressStream(streamOf(data, 12345), 'gzip'));
    expect(a).toEqual(b);
  });
});

describe.runIf(peersAvailable('zstd', 'gzip'))('compression peers', () => {
  it('reads what zstd and gzip write, and gzip reads what lade writes', async () => {
    const data = Buffer.from(sample(100_000));
    const zst = Buffer.from(
      await runOk('sh', ['-c', 'zstd -q -c | base64 -w0'], { input: data.toString('latin1') }).then((b) => b),
      'base64',
    );
    expect(Buffer.from(await collect((await decompress(streamOf(zst))).stream)).toString('latin1')).toBe(
      data.toString('latin1'),
    );
    const gz = await collect(compressStream(streamOf(data), 'gzip'));
    const back = await runOk('sh', ['-c', 'base64 -d | gzip -dc | sha256sum'], {
      input: Buffer.from(gz).toString('base64'),
    });
    expect(`sha256:${back.split(' ')[0]}`).toBe(hash(data));
  });
});
