import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { hash } from '@lade/digest';
import { tempDir } from '@lade/test-support';
import { describe, expect, it } from 'vitest';
import { tailHasher } from '../src/tail-hasher.js';

describe('tailHasher', () => {
  it('hashes a file on a worker while it is written, from the offsets it is told', async () => {
    const t = await tempDir('lade-tail-');
    try {
      const path = join(t.path, 'f');
      const fh = await open(path, 'wx');
      const hasher = tailHasher(path, 'sha256');
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
      // sha512 too
      const h512 = tailHasher(path, 'sha512')!;
      expect(await h512.finish(written)).toBe(hash(whole, { algorithm: 'sha512' }));
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
      await expect(tailHasher(path, 'sha256')!.finish(5000)).rejects.toThrow('the file ended at 1000 of 5000 bytes');
      await expect(tailHasher(join(t.path, 'missing'), 'sha256')!.finish(10)).rejects.toThrow('ENOENT');
      // the worker's failure arriving before finish() is kept for it (finish must not wait forever)
      const late = tailHasher(join(t.path, 'missing-too'), 'sha256')!;
      await new Promise((r) => setTimeout(r, 200));
      await expect(late.finish(10)).rejects.toThrow('ENOENT');
      const cancelled = tailHasher(path, 'sha256')!;
      cancelled.advance(500);
      cancelled.cancel();
      // the worker still serves new jobs afterwards
      expect(await tailHasher(path, 'sha256')!.finish(1000)).toBe(hash(new Uint8Array(1000)));
    } finally {
      await t.cleanup();
    }
  });
});
