import { hash } from '@lade/digest';
import { describe, expect, it } from 'vitest';
import {
  copy,
  type Descriptor,
  handOver,
  type ImageSink,
  MemoryImageStore,
  markOwnedChunks,
  ownsChunks,
  releaseChunk,
  SlabPool,
} from '../src/index.js';

describe('owned chunks', () => {
  it('returns a slab to its pool once it is sealed and every chunk cut from it is released', () => {
    const pool = new SlabPool(1024, 4);
    const slab = pool.take();
    const a = slab.cut(0, 100);
    const b = handOver(slab.bytes.subarray(100, 300));
    slab.seal();
    releaseChunk(a);
    expect(pool.free).toBe(0); // b is still out
    releaseChunk(b);
    expect(pool.free).toBe(1);
    expect(pool.take().bytes.buffer).toBe(slab.bytes.buffer); // the same memory again
    expect(pool.free).toBe(0);
  });

  it('keeps a slab that is still being cut from, even when every chunk so far is back', () => {
    const pool = new SlabPool(1024, 4);
    const slab = pool.take();
    releaseChunk(slab.cut(0, 10));
    expect(pool.free).toBe(0);
    slab.seal();
    expect(pool.free).toBe(1);
  });

  it('refuses to cut from a slab that went back to its pool', () => {
    const pool = new SlabPool(1024, 4);
    const slab = pool.take();
    slab.seal();
    expect(() => slab.cut(0, 10)).toThrow(/went back to its pool/);
    expect(() => handOver(slab.bytes.subarray(0, 10))).toThrow(/went back to its pool/);
  });

  it('ignores chunks of other memory and keeps at most maxFree slabs', () => {
    const pool = new SlabPool(64, 2);
    releaseChunk(new Uint8Array(10)); // no slab: nothing happens
    expect(handOver(new Uint8Array(3)).byteLength).toBe(3);
    const slabs = [pool.take(), pool.take(), pool.take()];
    for (const s of slabs) s.seal();
    expect(pool.free).toBe(2);
  });

  it('marks streams; piping or teeing a marked stream gives unmarked ones', () => {
    const s = markOwnedChunks(new ReadableStream<Uint8Array>());
    expect(ownsChunks(s)).toBe(true);
    expect(ownsChunks(s.pipeThrough(new TransformStream()))).toBe(false);
    const [x, y] = markOwnedChunks(new ReadableStream<Uint8Array>()).tee();
    expect([ownsChunks(x), ownsChunks(y)]).toEqual([false, false]);
    expect(ownsChunks(new ReadableStream())).toBe(false);
  });

  it('copy hands ownership on to a verifying sink when the source gave it, and only then', async () => {
    const layer = new Uint8Array(3000).map((_, i) => i % 251);
    const store = new MemoryImageStore('src');
    store.putImage({ layers: [layer], tag: 'x' });
    const seen: boolean[] = [];
    const sink = (marked: boolean): ImageSink => {
      const inner = new MemoryImageStore('dst').sink('x');
      return {
        ...inner,
        name: 'probe',
        verifiesBlobs: true,
        writeBlob: async (d: Descriptor, content, o) => {
          seen.push(ownsChunks(content));
          const chunks: Uint8Array[] = [];
          for await (const c of content as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
          const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
          let o2 = 0;
          for (const c of chunks) {
            all.set(c, o2);
            o2 += c.byteLength;
          }
          expect(hash(all)).toBe(d.digest);
          expect(marked).toBe(seen[seen.length - 1]);
          await inner.writeBlob(d, new Blob([all]).stream(), o);
        },
      };
    };
    const plain = store.source('x');
    await copy(plain, sink(false));
    expect(seen.every((v) => v === false)).toBe(true);
    seen.length = 0;
    const marking = {
      ...plain,
      openBlob: async (d: Descriptor, o?: Parameters<typeof plain.openBlob>[1]) =>
        markOwnedChunks(await plain.openBlob(d, o)),
    };
    await copy(marking, sink(true));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((v) => v === true)).toBe(true);
  });
});
