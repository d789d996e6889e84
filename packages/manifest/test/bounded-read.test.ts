import { describe, expect, it } from 'vitest';
import { readBounded } from '../src/index.js';

function chunks(...parts: number[]): {
  stream: ReadableStream<Uint8Array>;
  pulled: () => number;
  cancelled: () => boolean;
} {
  let i = 0;
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        const n = parts[i++];
        if (n === undefined) c.close();
        else c.enqueue(new Uint8Array(n).fill(i));
      },
      cancel() {
        cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => i, cancelled: () => cancelled };
}

describe('readBounded', () => {
  it('joins the chunks of a stream within the limit', async () => {
    const bytes = await readBounded(chunks(3, 2).stream, 5, () => new Error('too large'));
    expect([...bytes]).toEqual([1, 1, 1, 2, 2]);
  });

  it('returns an empty array for an empty stream', async () => {
    expect((await readBounded(chunks().stream, 0, () => new Error('x'))).byteLength).toBe(0);
  });

  it('stops at the first chunk over the limit, cancels the stream and throws the caller’s error', async () => {
    const s = chunks(4, 4, 4, 4);
    await expect(readBounded(s.stream, 6, () => new Error('manifest too large'))).rejects.toThrow('manifest too large');
    expect(s.pulled()).toBe(2);
    expect(s.cancelled()).toBe(true);
  });
});
