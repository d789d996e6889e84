import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createHasher,
  DigestInvalidError,
  defaultHashBackend,
  digestAlgorithm,
  digestHex,
  formatDigest,
  hash,
  hashingStream,
  isDigest,
  isLadeError,
  LadeError,
  parseDigest,
  SizeInvalidError,
  verifyBytes,
  verifyingStream,
} from '../src/index.js';

const EMPTY256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const EMPTY512 =
  'sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';
const ABC256 = 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
}

async function drain(s: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of s) n += c.byteLength;
  return n;
}

describe('parseDigest', () => {
  it.each([EMPTY256, EMPTY512, ABC256])('accepts %s', (d) => {
    expect(parseDigest(d)).toBe(d);
    expect(isDigest(d)).toBe(true);
  });

  it.each([
    ['', /expected algorithm:hex/],
    ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', /expected algorithm:hex/],
    ['md5:d41d8cd98f00b204e9800998ecf8427e', /unsupported algorithm "md5"/],
    ['sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', /lowercase/],
    ['sha256:abc', /needs 64 hex characters, got 3/],
    [`${EMPTY256}0`, /got 65/],
    ['sha512:abcd', /needs 128/],
    ['sha256:', /lowercase hexadecimal/],
    ['sha256:zz', /lowercase hexadecimal/],
    [`${EMPTY256}\n`, /lowercase/],
  ])('rejects %j with DIGEST_INVALID', (d, msg) => {
    expect(isDigest(d)).toBe(false);
    try {
      parseDigest(d);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(DigestInvalidError);
      expect(e).toBeInstanceOf(LadeError);
      expect((e as LadeError).code).toBe('DIGEST_INVALID');
      expect((e as Error).message).toMatch(msg);
    }
  });

  it('splits algorithm and hex, and builds back', () => {
    const d = parseDigest(ABC256);
    expect(digestAlgorithm(d)).toBe('sha256');
    expect(digestHex(d)).toBe(ABC256.slice(7));
    expect(formatDigest('sha256', digestHex(d))).toBe(d);
    expect(() => formatDigest('sha512', digestHex(d))).toThrow(DigestInvalidError);
  });

  it('isDigest is false for non-strings', () => {
    expect(isDigest(42)).toBe(false);
    expect(isDigest(null)).toBe(false);
  });
});

describe('hash', () => {
  it.each(['node', 'noble'] as const)('hashes known vectors with the %s backend', (backend) => {
    expect(hash('', { backend })).toBe(EMPTY256);
    expect(hash('abc', { backend })).toBe(ABC256);
    expect(hash(new Uint8Array(0), { algorithm: 'sha512', backend })).toBe(EMPTY512);
  });

  it('uses node:crypto by default on this runtime', () => {
    expect(defaultHashBackend()).toBe('node');
  });

  it('node and noble agree on random input, in any chunking', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 5000 }),
        fc.integer({ min: 1, max: 700 }),
        fc.constantFrom('sha256', 'sha512' as const),
        (bytes, step, alg) => {
          const a = createHasher(alg, 'node');
          const b = createHasher(alg, 'noble');
          for (let i = 0; i < bytes.length; i += step) {
            a.update(bytes.subarray(i, i + step));
            b.update(bytes.subarray(i, i + step));
          }
          expect(a.digest()).toBe(b.digest());
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('hashingStream', () => {
  it('passes bytes through and resolves digest and size', async () => {
    const h = hashingStream();
    const n = await drain(streamOf(new TextEncoder().encode('a'), new TextEncoder().encode('bc')).pipeThrough(h));
    expect(n).toBe(3);
    expect(await h.result).toEqual({ digest: ABC256, size: 3 });
  });

  it('works with the noble backend and sha512', async () => {
    const h = hashingStream({ algorithm: 'sha512', backend: 'noble' });
    await drain(streamOf().pipeThrough(h));
    expect(await h.result).toEqual({ digest: EMPTY512, size: 0 });
  });

  it('rejects its result when cancelled', async () => {
    const h = hashingStream();
    const reader = streamOf(new Uint8Array(10)).pipeThrough(h).getReader();
    await reader.cancel(new Error('stop'));
    await expect(h.result).rejects.toThrow('stop');
  });
});

describe('verifyingStream', () => {
  const abc = new TextEncoder().encode('abc');

  it('passes correct content', async () => {
    const v = verifyingStream({ digest: ABC256, size: 3 });
    expect(await drain(streamOf(abc.subarray(0, 1), abc.subarray(1)).pipeThrough(v))).toBe(3);
    expect(await v.result).toEqual({ digest: ABC256, size: 3 });
  });

  it('accepts unknown size', async () => {
    const v = verifyingStream({ digest: ABC256 });
    await drain(streamOf(abc).pipeThrough(v));
    expect((await v.result).size).toBe(3);
  });

  it('errors on the first byte past the size, before passing it on', async () => {
    const v = verifyingStream({ digest: ABC256, size: 2, name: 'layer 1' });
    const got: Uint8Array[] = [];
    const reader = streamOf(abc.subarray(0, 2), abc.subarray(2)).pipeThrough(v).getReader();
    await expect(
      (async () => {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          got.push(r.value);
        }
      })(),
    ).rejects.toThrow(/layer 1: content is longer than the expected 2 bytes/);
    expect(got.reduce((n, c) => n + c.byteLength, 0)).toBe(2);
    await expect(v.result).rejects.toBeInstanceOf(SizeInvalidError);
  });

  it('errors on a short stream before the reader sees the end', async () => {
    const v = verifyingStream({ digest: ABC256, size: 4 });
    await expect(drain(streamOf(abc).pipeThrough(v))).rejects.toMatchObject({ code: 'SIZE_INVALID' });
  });

  it('errors on a digest mismatch before the reader sees the end', async () => {
    const v = verifyingStream({ digest: EMPTY256, size: 3 });
    const err = await drain(streamOf(abc).pipeThrough(v)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestInvalidError);
    expect((err as Error).message).toContain(`does not match the expected ${EMPTY256}`);
    expect(isLadeError(err)).toBe(true);
  });

  it('rejects an invalid expected digest at construction', () => {
    expect(() => verifyingStream({ digest: 'sha256:nope' })).toThrow(DigestInvalidError);
  });

  it('verifies sha512 content with the noble backend', async () => {
    const v = verifyingStream({ digest: EMPTY512, size: 0 }, { backend: 'noble' });
    await drain(streamOf().pipeThrough(v));
    await expect(v.result).resolves.toEqual({ digest: EMPTY512, size: 0 });
  });

  it('verifyBytes checks size and digest in memory', () => {
    expect(() => verifyBytes(abc, { digest: ABC256, size: 3 })).not.toThrow();
    expect(() => verifyBytes(abc, { digest: ABC256, size: 4 })).toThrow(SizeInvalidError);
    expect(() => verifyBytes(abc, { digest: EMPTY256 })).toThrow(DigestInvalidError);
  });
});

describe('LadeError', () => {
  it('recognises branded errors from other copies, and keeps subclass checks strict', () => {
    const foreign = Object.defineProperty(new Error('x'), Symbol.for('lade.error'), { value: true });
    expect(foreign).toBeInstanceOf(LadeError);
    expect(foreign).not.toBeInstanceOf(DigestInvalidError);
    expect(new SizeInvalidError('x')).not.toBeInstanceOf(DigestInvalidError);
    expect(new Error('plain')).not.toBeInstanceOf(LadeError);
    const e = new LadeError('X', 'm', { cause: 1, detail: { a: 1 } });
    expect(e.cause).toBe(1);
    expect(e.detail).toEqual({ a: 1 });
    expect(e.name).toBe('LadeError');
  });
});
