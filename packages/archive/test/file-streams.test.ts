import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ownsChunks, releaseChunk } from '@lade/manifest';
import { tempDir } from '@lade/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { readFileStream, writeFileAtomic, writeStreamToFile } from '../src/file-streams.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function dir(): Promise<string> {
  const t = await tempDir('lade-archive-files-');
  cleanups.push(t.cleanup);
  return t.path;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Buffer; chunks: Uint8Array[] }> {
  const chunks: Uint8Array[] = [];
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return { bytes: Buffer.concat(chunks), chunks };
}

const pattern = (n: number) => Buffer.from(new Uint8Array(n).map((_, i) => (i * 31 + (i >> 11)) % 256));

describe('file streams', () => {
  it('hands its chunks over with ownership: a reader that releases them reads the next ones into the same memory', async () => {
    const path = join(await dir(), 'f');
    const content = pattern(4 * 1024 * 1024 + 5);
    await writeFile(path, content);
    const stream = readFileStream(path);
    expect(ownsChunks(stream)).toBe(true);
    const buffers = new Set<ArrayBufferLike>();
    const parts: Buffer[] = [];
    for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
      buffers.add(c.buffer);
      parts.push(Buffer.from(c)); // a copy: the bytes are given back below
      releaseChunk(c);
    }
    expect(Buffer.concat(parts).equals(content)).toBe(true);
    expect(parts.length).toBe(9);
    expect(buffers.size).toBeLessThanOrEqual(3); // one read ahead: at most a few slabs go round
  });

  it('reads a whole file and exact ranges across its 512 KiB read chunks, each chunk its own buffer', async () => {
    const path = join(await dir(), 'f');
    const content = pattern(2 * 1024 * 1024 + 77);
    await writeFile(path, content);
    const whole = await collect(readFileStream(path));
    expect(whole.bytes.equals(content)).toBe(true);
    expect(new Set(whole.chunks.map((c) => c.buffer)).size).toBe(whole.chunks.length);
    for (const [start, length] of [
      [0, 0],
      [512 * 1024 - 3, 6],
      [100, 1024 * 1024 + 5],
      [content.length - 10, 10],
    ] as const) {
      const part = await collect(readFileStream(path, { start, length }));
      expect(part.bytes.equals(content.subarray(start, start + length))).toBe(true);
    }
  });

  it('ends short (no error) when the file is shorter than the range, so a verifier reports the short read', async () => {
    const path = join(await dir(), 'f');
    await writeFile(path, pattern(1000));
    const part = await collect(readFileStream(path, { start: 900, length: 500 }));
    expect(part.bytes.length).toBe(100);
  });

  it('fails the stream for a missing file and closes the file on cancel', async () => {
    const d = await dir();
    await expect(collect(readFileStream(join(d, 'missing')))).rejects.toMatchObject({ code: 'ENOENT' });
    const path = join(d, 'f');
    await writeFile(path, pattern(3 * 1024 * 1024));
    const reader = readFileStream(path).getReader();
    expect((await reader.read()).value?.byteLength).toBe(512 * 1024);
    await reader.cancel();
  });

  it('writes uneven chunks exactly (batched writes), and removes the file when the stream fails', async () => {
    const d = await dir();
    const content = pattern(3 * 1024 * 1024 + 11);
    let off = 0;
    let n = 1;
    const source = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= content.length) return c.close();
        n = (n * 7 + 3) % 200_003;
        c.enqueue(content.slice(off, off + n));
        off += n;
      },
    });
    const path = join(d, 'out');
    await writeStreamToFile(source, path);
    expect((await readFile(path)).equals(content)).toBe(true);

    let sent = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent > 2 * 1024 * 1024) return c.error(new Error('source broke'));
        c.enqueue(pattern(300 * 1024));
        sent += 300 * 1024;
      },
    });
    const broken = join(d, 'broken');
    await expect(writeStreamToFile(failing, broken)).rejects.toThrow('source broke');
    expect(existsSync(broken)).toBe(false);
    const atomic = join(d, 'atomic');
    await expect(
      writeFileAtomic(
        new ReadableStream({
          start: (c) => c.error(new Error('nope')),
        }),
        atomic,
      ),
    ).rejects.toThrow('nope');
    expect(existsSync(atomic)).toBe(false);
  });
});
