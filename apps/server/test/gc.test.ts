import { utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRegistry, FilesystemDriver, layout, type Registry } from '../src/index.js';
import { call, pushBlob, pushImage, sha256 } from './helpers.js';

const HOUR = 60 * 60 * 1000;

describe('garbage collection', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let registry: Registry;
  beforeEach(async () => {
    dir = await tempDir('lade-server-gc-');
    registry = createRegistry({ storage: new FilesystemDriver(dir.path) });
  });
  afterEach(async () => dir.cleanup());

  const age = async (storagePath: string, ms: number) => {
    const t = new Date(Date.now() - ms);
    await utimes(join(dir.path, storagePath), t, t);
  };
  const ageBlob = (d: string) => age(layout.blobData(d as never), 2 * HOUR);
  const ageLink = (repo: string, d: string) => age(layout.layerLink(repo, d as never), 2 * HOUR);

  it('sweeps old unreferenced blobs and keeps everything manifests reference, including index children', async () => {
    const image = await pushImage(registry, 'app', 'v1');
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: image.digest,
          size: Buffer.byteLength(image.manifest),
        },
      ],
    });
    expect(
      (
        await call(registry, 'PUT', '/v2/app/manifests/multi', {
          headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' },
          body: index,
        })
      ).status,
    ).toBe(201);
    await call(registry, 'DELETE', '/v2/app/manifests/v1');
    const orphan = await pushBlob(registry, 'app', 'orphan layer');
    for (const d of [image.configDigest, image.layerDigest, image.digest, sha256(index), orphan]) await ageBlob(d);
    for (const d of [image.configDigest, image.layerDigest, orphan]) await ageLink('app', d);
    const dry = await registry.collectGarbage({ dryRun: true });
    expect(dry.deleted).toEqual([orphan]);
    expect((await call(registry, 'GET', `/v2/app/blobs/${orphan}`)).status).toBe(200);
    const report = await registry.collectGarbage();
    expect(report.deleted).toEqual([orphan]);
    expect(report.bytesFreed).toBe('orphan layer'.length);
    expect((await call(registry, 'GET', `/v2/app/blobs/${orphan}`)).status).toBe(404);
    for (const d of [image.configDigest, image.layerDigest])
      expect((await call(registry, 'GET', `/v2/app/blobs/${d}`)).status).toBe(200);
    expect((await call(registry, 'GET', '/v2/app/manifests/multi')).text).toBe(index);
  });

  it('keeps unreferenced blobs younger than the grace period (a push in progress)', async () => {
    const fresh = await pushBlob(registry, 'app', 'layer of a push in progress');
    const report = await registry.collectGarbage();
    expect(report.deleted).toEqual([]);
    expect((await call(registry, 'GET', `/v2/app/blobs/${fresh}`)).status).toBe(200);
  });

  it('keeps an old blob freshly mounted or re-linked into a repository', async () => {
    const d = await pushBlob(registry, 'src', 'shared layer');
    await ageBlob(d);
    await ageLink('src', d);
    expect((await call(registry, 'POST', '/v2/dst/blobs/uploads/', { query: { mount: d, from: 'src' } })).status).toBe(
      201,
    );
    expect((await registry.collectGarbage()).deleted).toEqual([]);
  });

  it('purges upload sessions older than the maximum age and leaves recent ones resumable', async () => {
    const oldPost = await call(registry, 'POST', '/v2/app/blobs/uploads/');
    const newPost = await call(registry, 'POST', '/v2/app/blobs/uploads/');
    const oldId = oldPost.headers.get('docker-upload-uuid')!;
    await registry.store.driver.putContent(
      layout.uploadStarted('app', oldId),
      new TextEncoder().encode(new Date(Date.now() - 8 * 24 * HOUR).toISOString()),
    );
    const report = await registry.collectGarbage();
    expect(report.uploadsPurged).toBe(1);
    expect((await call(registry, 'GET', oldPost.headers.get('location')!)).status).toBe(404);
    expect((await call(registry, 'GET', newPost.headers.get('location')!)).status).toBe(204);
  });

  it('loses nothing referenced while 40 pushes run concurrently with repeated collections', async () => {
    const old = await pushImage(registry, 'stable', 'v1');
    for (const d of [old.configDigest, old.layerDigest, old.digest]) await ageBlob(d);
    let running = true;
    const collections = (async () => {
      let n = 0;
      while (running) {
        await registry.collectGarbage({ gracePeriodMs: 60_000 });
        n++;
      }
      return n;
    })();
    const pushed = await Promise.all(
      Array.from({ length: 40 }, (_, i) => pushImage(registry, `concurrent/app${i % 8}`, `t${i}`)),
    );
    running = false;
    expect(await collections).toBeGreaterThan(0);
    await registry.collectGarbage({ gracePeriodMs: 60_000 });
    for (const [i, p] of pushed.entries()) {
      const repo = `concurrent/app${i % 8}`;
      expect((await call(registry, 'GET', `/v2/${repo}/manifests/t${i}`)).text).toBe(p.manifest);
      for (const d of [p.configDigest, p.layerDigest])
        expect((await call(registry, 'HEAD', `/v2/${repo}/blobs/${d}`)).status).toBe(200);
    }
    for (const d of [old.configDigest, old.layerDigest])
      expect((await call(registry, 'HEAD', `/v2/stable/blobs/${d}`)).status).toBe(200);
  });
});
