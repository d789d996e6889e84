import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, hash } from '@lade/digest';
import { markOwnedChunks, SlabPool } from '@lade/manifest';
import { tempDir } from '@lade/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { type BlobStore, FsBlobStore, MemoryBlobStore } from '../src/index.js';
import { failingStream, readAll, streamOf } from './helpers.js';

const enc = new TextEncoder();
const hello = enc.encode('hello, blob store');
const helloDigest = hash(hello) as Digest;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function collect(store: BlobStore): Promise<Digest[]> {
  const out: Digest[] = [];
  for await (const d of store.list()) out.push(d);
  return out.sort();
}

const drivers: [string, () => Promise<{ store: BlobStore; dir?: string }>][] = [
  [
    'FsBlobStore',
    async () => {
      const t = await tempDir();
      cleanups.push(t.cleanup);
      return { store: new FsBlobStore(t.path), dir: t.path };
    },
  ],
  ['MemoryBlobStore', async () => ({ store: new MemoryBlobStore() })],
];

describe.each(drivers)('%s', (_name, make) => {
  it('ingests verified content and reads it back whole and by range', async () => {
    const { store } = await make();
    const info = await store.ingest(
      { digest: helloDigest, size: hello.byteLength },
      streamOf(hello.subarray(0, 5), hello.subarray(5)),
    );
    expect(info).toEqual({ digest: helloDigest, size: hello.byteLength });
    expect(await store.has(helloDigest)).toBe(true);
    expect(await store.stat(helloDigest)).toEqual({ digest: helloDigest, size: hello.byteLength });
    expect(await readAll(await store.read(helloDigest))).toBe('hello, blob store');
    expect(await readAll(await store.read(helloDigest, { start: 7 }))).toBe('blob store');
    expect(await readAll(await store.read(helloDigest, { start: 7, end: 11 }))).toBe('blob');
    expect(await readAll(await store.read(helloDigest, { start: 17, end: 17 }))).toBe('');
    expect(await collect(store)).toEqual([helloDigest]);
  });

  it('ingests without a known size', async () => {
    const { store } = await make();
    expect(await store.ingest({ digest: helloDigest }, streamOf(hello))).toEqual({
      digest: helloDigest,
      size: hello.byteLength,
    });
  });

  it('reports progress while ingesting', async () => {
    const { store } = await make();
    const seen: number[] = [];
    await store.ingest(
      { digest: helloDigest, size: hello.byteLength },
      streamOf(hello.subarray(0, 5), hello.subarray(5)),
      { onProgress: (n) => seen.push(n) },
    );
    expect(seen).toEqual([5, hello.byteLength]);
  });

  it('rejects content whose digest does not match with DIGEST_INVALID and stores nothing', async () => {
    const { store, dir } = await make();
    const wrong = hash(enc.encode('other')) as Digest;
    await expect(store.ingest({ digest: wrong, size: hello.byteLength }, streamOf(hello))).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
    expect(await store.has(wrong)).toBe(false);
    expect(await collect(store)).toEqual([]);
    if (dir) expect(await readdir(join(dir, '.lade-ingest')).catch(() => [])).toEqual([]);
  });

  it('rejects content longer than its size with SIZE_INVALID and stores nothing', async () => {
    const { store } = await make();
    await expect(store.ingest({ digest: helloDigest, size: 3 }, streamOf(hello))).rejects.toMatchObject({
      code: 'SIZE_INVALID',
    });
    expect(await collect(store)).toEqual([]);
  });

  it('rejects content that ends short with SIZE_INVALID and stores nothing', async () => {
    const { store } = await make();
    await expect(store.ingest({ digest: helloDigest, size: 100 }, streamOf(hello))).rejects.toMatchObject({
      code: 'SIZE_INVALID',
    });
    expect(await collect(store)).toEqual([]);
  });

  it('stores nothing when the content stream errors mid-way', async () => {
    const { store, dir } = await make();
    await expect(
      store.ingest(
        { digest: helloDigest, size: hello.byteLength },
        failingStream(hello.subarray(0, 4), new Error('connection reset')),
      ),
    ).rejects.toThrow('connection reset');
    expect(await collect(store)).toEqual([]);
    if (dir) expect(await readdir(join(dir, '.lade-ingest')).catch(() => [])).toEqual([]);
  });

  it('stops with ABORTED when the signal fires and stores nothing', async () => {
    const { store } = await make();
    const ac = new AbortController();
    ac.abort(new Error('user cancelled'));
    await expect(
      store.ingest({ digest: helloDigest, size: hello.byteLength }, streamOf(hello), { signal: ac.signal }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await collect(store)).toEqual([]);
  });

  it('aborts a stalled ingest as soon as the signal fires, storing nothing', async () => {
    const { store, dir } = await make();
    const ac = new AbortController();
    let cancelled = false;
    const stalled = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(hello.subarray(0, 3));
      },
      cancel() {
        cancelled = true;
      },
    });
    setTimeout(() => ac.abort(new Error('user cancelled')), 50);
    const started = Date.now();
    await expect(
      store.ingest({ digest: helloDigest, size: hello.byteLength }, stalled, { signal: ac.signal }),
    ).rejects.toMatchObject({
      code: 'ABORTED',
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(cancelled).toBe(true);
    expect(await collect(store)).toEqual([]);
    if (dir) expect(await readdir(join(dir, '.lade-ingest')).catch(() => [])).toEqual([]);
  });

  it('rejects an invalid digest with DIGEST_INVALID', async () => {
    const { store } = await make();
    await expect(store.ingest({ digest: 'sha256:xyz' as Digest }, streamOf(hello))).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
  });

  it('re-ingesting present content verifies it and keeps the blob', async () => {
    const { store } = await make();
    await store.ingest({ digest: helloDigest, size: hello.byteLength }, streamOf(hello));
    await store.ingest({ digest: helloDigest, size: hello.byteLength }, streamOf(hello));
    await expect(
      store.ingest({ digest: helloDigest, size: hello.byteLength }, streamOf(enc.encode('hello, blob stor!'))),
    ).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
    expect(await readAll(await store.read(helloDigest))).toBe('hello, blob store');
  });

  it('reading an absent blob is BLOB_UNKNOWN and stat is undefined', async () => {
    const { store } = await make();
    await expect(store.read(helloDigest)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    expect(await store.stat(helloDigest)).toBeUndefined();
    expect(await store.has(helloDigest)).toBe(false);
  });

  it('a range outside the blob is RANGE_INVALID', async () => {
    const { store } = await make();
    await store.ingest({ digest: helloDigest }, streamOf(hello));
    await expect(store.read(helloDigest, { start: 18 })).rejects.toMatchObject({ code: 'RANGE_INVALID' });
    await expect(store.read(helloDigest, { start: 5, end: 4 })).rejects.toMatchObject({ code: 'RANGE_INVALID' });
    await expect(store.read(helloDigest, { start: -1 })).rejects.toMatchObject({ code: 'RANGE_INVALID' });
    await expect(store.read(helloDigest, { start: 0, end: 100 })).rejects.toMatchObject({ code: 'RANGE_INVALID' });
  });

  it('deletes a blob and reports whether it was there', async () => {
    const { store } = await make();
    await store.ingest({ digest: helloDigest }, streamOf(hello));
    expect(await store.delete(helloDigest)).toBe(true);
    expect(await store.delete(helloDigest)).toBe(false);
    expect(await collect(store)).toEqual([]);
  });

  it('ingests the same content concurrently without conflict', async () => {
    const { store } = await make();
    await Promise.all(
      Array.from({ length: 8 }, () => store.ingest({ digest: helloDigest, size: hello.byteLength }, streamOf(hello))),
    );
    expect(await collect(store)).toEqual([helloDigest]);
    expect(await readAll(await store.read(helloDigest))).toBe('hello, blob store');
  });
});

describe.each(drivers)('%s with big blobs (on disk: hashed by the tail-hashing worker)', (_name, make) => {
  const big = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => (i * 11 + (i >> 8)) % 256);
  const bigDigest = hash(big) as Digest;
  /** `data` in 64 KiB chunks; `pulled()` tells how many chunks the consumer asked for. */
  const chunked = (data: Uint8Array, fail?: Error) => {
    let off = 0;
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        if (fail && off >= data.length / 2) return c.error(fail);
        if (off >= data.length) return c.close();
        c.enqueue(data.slice(off, off + 65536));
        off += 65536;
      },
    });
    return { stream, pulled: () => pulls };
  };

  it('stores big content, byte for byte, several at once', async () => {
    const { store } = await make();
    const others = [1, 2, 3].map((k) => big.map((b) => (b + k) % 256));
    const all = [big, ...others];
    const infos = await Promise.all(
      all.map((data) => store.ingest({ digest: hash(data) as Digest, size: data.length }, chunked(data).stream)),
    );
    for (const [i, data] of all.entries()) {
      expect(infos[i]).toEqual({ digest: hash(data), size: data.length });
      const back = Buffer.from(await new Response(await store.read(hash(data) as Digest)).arrayBuffer());
      expect(back.equals(Buffer.from(data))).toBe(true);
    }
  });

  it('refuses big content with the wrong digest (DIGEST_INVALID naming both digests), leaving nothing', async () => {
    const { store, dir } = await make();
    const wrong = hash(enc.encode('not this')) as Digest;
    const err = await store.ingest({ digest: wrong, size: big.length }, chunked(big).stream).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DIGEST_INVALID' });
    expect((err as Error).message).toBe(
      `blob ${wrong}: content digest ${bigDigest} does not match the expected ${wrong}; the source is corrupt`,
    );
    expect(await collect(store)).toEqual([]);
    if (dir) expect(await readdir(join(dir, '.lade-ingest')).catch(() => [])).toEqual([]);
  });

  it('stops reading big content at the first chunk past its size (SIZE_INVALID), and refuses short content', async () => {
    const { store, dir } = await make();
    const long = chunked(big);
    await expect(store.ingest({ digest: bigDigest, size: 1024 * 1024 + 1 }, long.stream)).rejects.toMatchObject({
      code: 'SIZE_INVALID',
    });
    expect(long.pulled()).toBeLessThan(big.length / 65536 - 10);
    await expect(
      store.ingest({ digest: bigDigest, size: big.length + 100 }, chunked(big).stream),
    ).rejects.toMatchObject({ code: 'SIZE_INVALID', message: expect.stringContaining('content ended after') });
    expect(await collect(store)).toEqual([]);
    if (dir) expect(await readdir(join(dir, '.lade-ingest')).catch(() => [])).toEqual([]);
  });

  it('leaves nothing when big content fails mid-way or the signal fires', async () => {
    const { store, dir } = await make();
    await expect(
      store.ingest({ digest: bigDigest, size: big.length }, chunked(big, new Error('connection reset')).stream),
    ).rejects.toThrow('connection reset');
    const ac = new AbortController();
    const slow = new ReadableStream<Uint8Array>({
      async pull(c) {
        c.enqueue(big.slice(0, 65536));
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    setTimeout(() => ac.abort(new Error('user cancelled')), 30);
    await expect(
      store.ingest({ digest: bigDigest, size: big.length }, slow, { signal: ac.signal }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await collect(store)).toEqual([]);
    if (dir) expect(await readdir(join(dir, '.lade-ingest')).catch(() => [])).toEqual([]);
  });
});

describe('FsBlobStore on disk', () => {
  it('lays blobs out as blobs/sha256/<hex> and leaves no temp files', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = new FsBlobStore(t.path);
    await store.ingest({ digest: helloDigest }, streamOf(hello));
    expect(await readdir(join(t.path, 'blobs', 'sha256'))).toEqual([helloDigest.slice(7)]);
    expect(await readdir(join(t.path, '.lade-ingest'))).toEqual([]);
    expect(store.blobPath(helloDigest)).toBe(join(t.path, 'blobs', 'sha256', helloDigest.slice(7)));
  });

  it('writes the exact bytes of content arriving in many uneven chunks (gathered into batched writes)', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = new FsBlobStore(t.path, { fsync: false });
    const big = new Uint8Array(5 * 1024 * 1024 + 13).map((_, i) => (i * 7 + (i >> 9)) % 256);
    const d = hash(big) as Digest;
    // chunks from 1 byte to 300 KiB, so batches end mid-chunk and some hold hundreds of chunks
    let seed = 17;
    let off = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= big.length) return c.close();
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        const n = seed % 7 === 0 ? 300 * 1024 : (seed % 4096) + 1;
        c.enqueue(big.slice(off, off + n));
        off += n;
      },
    });
    await store.ingest({ digest: d, size: big.byteLength }, stream);
    const back = Buffer.from(await readFile(store.blobPath(d)));
    expect(back.length).toBe(big.length);
    expect(back.equals(Buffer.from(big))).toBe(true);
  });

  it('flushes a big ingest to disk as it goes (early fdatasyncs), and fails it when such a flush fails', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = new FsBlobStore(t.path);
    const big = new Uint8Array(40 * 1024 * 1024).map((_, i) => (i * 31 + (i >> 12)) % 256);
    const d = hash(big) as Digest;
    const probe = await open(join(t.path, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const real = proto.datasync;
    let calls = 0;
    proto.datasync = function (this: unknown) {
      calls++;
      return real.call(this);
    };
    try {
      await store.ingest({ digest: d, size: big.byteLength }, streamOf(big));
      expect(calls).toBeGreaterThanOrEqual(1); // 40 MiB: at least one flush every 16 MiB while writing
      expect(Buffer.from(await readFile(store.blobPath(d))).equals(Buffer.from(big))).toBe(true);
      // A writeback error is reported once, to the first sync that meets it: an early flush's failure is the ingest's.
      await store.delete(d);
      proto.datasync = () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
      await expect(store.ingest({ digest: d, size: big.byteLength }, streamOf(big))).rejects.toThrow(/EIO/);
      expect(await store.stat(d)).toBeUndefined();
      expect(await readdir(join(t.path, '.lade-ingest'))).toEqual([]);
    } finally {
      proto.datasync = real;
    }
  });

  it('gives owned chunks back once written (their slabs are used again), and keeps the chunks of unmarked streams', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = new FsBlobStore(t.path, { fsync: false });
    const big = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i * 13 + (i >> 10)) % 256);
    const d = hash(big) as Digest;
    const slabSize = 256 * 1024;
    const stream = (pool: SlabPool, marked: boolean) => {
      let off = 0;
      const s = new ReadableStream<Uint8Array>({
        pull(c) {
          if (off >= big.length) return c.close();
          const slab = pool.take();
          slab.bytes.set(big.subarray(off, off + slabSize));
          c.enqueue(slab.cut(0, Math.min(slabSize, big.length - off)));
          slab.seal();
          off += slabSize;
        },
      });
      return marked ? markOwnedChunks(s) : s;
    };
    const owned = new SlabPool(slabSize, 64);
    await store.ingest({ digest: d, size: big.byteLength }, stream(owned, true));
    expect(Buffer.from(await readFile(store.blobPath(d))).equals(Buffer.from(big))).toBe(true);
    // Every slab came back, and reuse kept the count of slabs ever made far below the 24 chunks.
    expect(owned.free).toBeGreaterThan(0);
    expect(owned.free).toBeLessThan(24);
    await store.delete(d);
    const kept = new SlabPool(slabSize, 64);
    await store.ingest({ digest: d, size: big.byteLength }, stream(kept, false));
    expect(kept.free).toBe(0);
    expect(Buffer.from(await readFile(store.blobPath(d))).equals(Buffer.from(big))).toBe(true);
  });

  it('streams a large blob in bounded chunks', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = new FsBlobStore(t.path, { fsync: false });
    const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => i % 251);
    const d = hash(big) as Digest;
    await store.ingest({ digest: d, size: big.byteLength }, streamOf(big));
    const reader = (await store.read(d, { start: 1 })).getReader();
    let total = 0;
    let max = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      max = Math.max(max, value.byteLength);
    }
    expect(total).toBe(big.byteLength - 1);
    expect(max).toBeLessThanOrEqual(1024 * 1024);
  });

  it('reads the exact bytes of a range spanning several read-ahead chunks, and cancels cleanly mid-stream', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = new FsBlobStore(t.path, { fsync: false });
    const big = new Uint8Array(2 * 1024 * 1024 + 13).map((_, i) => (i * 7) % 253);
    const d = hash(big) as Digest;
    await store.ingest({ digest: d, size: big.byteLength }, streamOf(big));
    const start = 300_000;
    const end = 1_900_001;
    const got = new Uint8Array(await new Response(await store.read(d, { start, end })).arrayBuffer());
    expect(got.byteLength).toBe(end - start);
    expect(Buffer.from(got).equals(Buffer.from(big.subarray(start, end)))).toBe(true);
    const reader = (await store.read(d)).getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    expect(await store.delete(d)).toBe(true);
  });

  it('lists only valid digests and reports other entries as strays', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = new FsBlobStore(t.path);
    await store.ingest({ digest: helloDigest }, streamOf(hello));
    const { writeFile, mkdir } = await import('node:fs/promises');
    await writeFile(join(t.path, 'blobs', 'sha256', 'not-a-digest'), 'x');
    await mkdir(join(t.path, 'blobs', 'md5'));
    expect(await collect(store)).toEqual([helloDigest]);
    expect((await store.strayEntries()).map((s) => s.path).sort()).toEqual([
      join(t.path, 'blobs', 'md5'),
      join(t.path, 'blobs', 'sha256', 'not-a-digest'),
    ]);
  });
});
