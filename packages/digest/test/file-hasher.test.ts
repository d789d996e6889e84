import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@lade/test-support';
import { describe, expect, it } from 'vitest';
import { fileHasher, hash } from '../src/index.js';

describe('fileHasher', () => {
  it('hashes a file on a worker while it is written, from the offsets it is told', async () => {
    const t = await tempDir('lade-tail-');
    try {
      const path = join(t.path, 'f');
      const fh = await open(path, 'wx');
      const hasher = fileHasher(path, 'sha256');
      expect(hasher).toBeDefined();
      const parts = [1, 2, 3, 4, 5].map((k) => new Uint8Array(700 * 1024 + k).fill(k));
      let written = 0;
      for (const p of parts) {
        await fh.write(p, 0, p.length, written);
        written += p.length;
        hasher!.advance(written);
      }
      await fh.close();
      const whole = Buffer.concat(parts);
      expect(await hasher!.finish(written)).toBe(hash(whole));
      // sha512 too, and a range that starts inside the file
      const h512 = fileHasher(path, 'sha512')!;
      expect(await h512.finish(written)).toBe(hash(whole, { algorithm: 'sha512' }));
      const ranged = fileHasher(path, 'sha256', 1000)!;
      ranged.advance(300_000);
      expect(await ranged.finish(written - 7)).toBe(hash(whole.subarray(1000, written - 7)));
    } finally {
      await t.cleanup();
    }
  });

  it('rejects when the file is shorter than claimed or missing, and a cancelled job never answers', async () => {
    const t = await tempDir('lade-tail-');
    try {
      const path = join(t.path, 'short');
      const fh = await open(path, 'wx');
      await fh.write(new Uint8Array(1000));
      await fh.close();
      await expect(fileHasher(path, 'sha256')!.finish(5000)).rejects.toThrow('the file ended at 1000 of 5000 bytes');
      await expect(fileHasher(path, 'sha256')!.finish(5000)).rejects.toMatchObject({
        code: 'HASH_FAILED',
        message: expect.stringContaining(`hashing ${path} failed`),
      });
      await expect(fileHasher(join(t.path, 'missing'), 'sha256')!.finish(10)).rejects.toThrow('ENOENT');
      // the worker's failure arriving before finish() is kept for it (finish must not wait forever)
      const late = fileHasher(join(t.path, 'missing-too'), 'sha256')!;
      await new Promise((r) => setTimeout(r, 200));
      await expect(late.finish(10)).rejects.toThrow('ENOENT');
      const cancelled = fileHasher(path, 'sha256')!;
      cancelled.advance(500);
      cancelled.cancel();
      // the worker still serves new jobs afterwards
      expect(await fileHasher(path, 'sha256')!.finish(1000)).toBe(hash(new Uint8Array(1000)));
    } finally {
      await t.cleanup();
    }
  });
});
