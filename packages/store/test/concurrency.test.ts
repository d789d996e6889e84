import { copy, MemoryImageStore } from '@lade/manifest';
import { run, tempDir } from '@lade/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { ImageStore } from '../src/index.js';
import { putTestImage, tsNode } from './helpers.js';

describe('several processes on one store', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('loses no tag and no image when 4 processes tag and pull at once', async () => {
    const t = await tempDir('lade-conc-');
    cleanups.push(t.cleanup);
    const store = await ImageStore.open(t.path);
    const mem = new MemoryImageStore();
    const base = putTestImage(mem, { tag: 'b', layers: ['base'] });
    await copy(mem.source('b'), store.sink('base:1'));
    const procs = 4;
    const times = 10;
    const results = await Promise.all(
      Array.from({ length: procs }, (_, i) =>
        run(tsNode[0]!, [
          ...tsNode.slice(1),
          new URL('./store-child.ts', import.meta.url).pathname,
          t.path,
          String(i),
          String(times),
        ]),
      ),
    );
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const rows = await store.listImages();
    const baseRows = rows.filter((r) => r.imageId === base.config.digest);
    expect(baseRows).toHaveLength(1 + procs * times);
    expect(
      rows
        .filter((r) => r.repository.startsWith('own/'))
        .map((r) => r.repository)
        .sort(),
    ).toEqual(['own/p0', 'own/p1', 'own/p2', 'own/p3']);
    const report = await store.fsck();
    expect(report.ok).toBe(true);
    expect(report.orphans).toEqual([]);
    expect(report.garbage).toEqual([]);
  }, 120_000);

  it('pulls complete while another process collects garbage in a loop (leases protect unnamed blobs)', async () => {
    const t = await tempDir('lade-conc-gc-');
    cleanups.push(t.cleanup);
    const store = await ImageStore.open(t.path);
    const gc = run(tsNode[0]!, [
      ...tsNode.slice(1),
      new URL('./gc-child.ts', import.meta.url).pathname,
      t.path,
      '4000',
    ]);
    const mem = new MemoryImageStore();
    const big = 'x'.repeat(2 * 1024 * 1024);
    const started = Date.now();
    let pulls = 0;
    try {
      // Keep pulling fresh images while the collector runs; each pull's blobs are unnamed until its commit.
      while (Date.now() - started < 3500) {
        const img = putTestImage(mem, { tag: `i${pulls}`, layers: [`${big}${pulls}`, `small ${pulls}`] });
        await copy(mem.source(`i${pulls}`), store.sink(`app:${pulls}`));
        expect((await store.resolve(`app:${pulls}`)).root.digest).toBe(img.manifest.digest);
        pulls++;
      }
    } finally {
      await gc;
    }
    const r = await gc;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const [runs] = r.stdout.trim().split(' ').map(Number);
    expect(runs).toBeGreaterThan(0);
    expect(pulls).toBeGreaterThan(1);
    const report = await store.fsck();
    expect({ ok: report.ok, missing: report.missing, corrupt: report.corrupt }).toEqual({
      ok: true,
      missing: [],
      corrupt: [],
    });
    for (const row of await store.listImages()) await store.inspect(row.imageId);
  }, 120_000);
});
