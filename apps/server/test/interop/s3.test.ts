import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  freePort,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  repoRoot,
  run,
  runOk,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, type Registry, type RunningServer, S3Driver, serve } from '../../src/index.js';
import { call, pushImage, sha256 } from '../helpers.js';

const script = join(repoRoot, 'tools/peers/s3.sh');

async function readAll(stream: ReadableStream<Uint8Array> | undefined): Promise<Buffer> {
  if (!stream) throw new Error('no stream');
  return Buffer.from(await new Response(stream).arrayBuffer());
}

describe.runIf(peersAvailable('radosgw', 'ceph-mon', 'ceph-osd', 'skopeo'))(
  'S3 driver on a real radosgw (Ceph)',
  () => {
    let port: number;
    let endpoint: string;
    let access: string;
    let secret: string;
    let driver: S3Driver;
    const bucket = `lade-${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      port = await freePort();
      [endpoint, access, secret] = (
        await runOk('bash', [script, 'start', '--port', String(port)], { timeoutMs: 180_000 })
      )
        .trim()
        .split(' ') as [string, string, string];
      driver = new S3Driver({
        bucket,
        endpoint,
        accessKeyId: access,
        secretAccessKey: secret,
        rootDirectory: 'registry',
        partSize: 5 * 1024 * 1024,
      });
      await driver.ensureBucket();
    }, 200_000);
    afterAll(async () => {
      if (port) await run('bash', [script, 'stop', '--port', String(port)]);
    });

    it('puts, gets, stats, lists, moves and deletes objects (keys with ":" included)', async () => {
      await driver.putContent('/a/b/one', new TextEncoder().encode('1'));
      await driver.putContent('/a/b/sha256:ff', new TextEncoder().encode('two'));
      await driver.putContent('/a/c/deep/three', new TextEncoder().encode('333'));
      expect(new TextDecoder().decode(await driver.getContent('/a/b/sha256:ff'))).toBe('two');
      expect(await driver.getContent('/a/missing')).toBeUndefined();
      expect(await driver.list('/a')).toEqual(['b', 'c']);
      expect(await driver.list('/a/b')).toEqual(['one', 'sha256:ff']);
      expect(await driver.stat('/a/b/one')).toMatchObject({ size: 1, isDir: false });
      expect(await driver.stat('/a/c')).toMatchObject({ isDir: true });
      expect(await driver.stat('/nothing')).toBeUndefined();
      await driver.move('/a/b/one', '/moved/one');
      expect(await driver.getContent('/a/b/one')).toBeUndefined();
      expect(new TextDecoder().decode(await driver.getContent('/moved/one'))).toBe('1');
      await expect(driver.move('/a/b/none', '/x')).rejects.toMatchObject({ code: 'PATH_NOT_FOUND' });
      await driver.delete('/a');
      expect(await driver.list('/a')).toEqual([]);
    });

    it('writes large objects as multipart uploads and appends with UploadPartCopy; reads ranges', async () => {
      const first = randomBytes(12 * 1024 * 1024);
      const second = randomBytes(6 * 1024 * 1024 + 123);
      const w = await driver.writer('/big/data', true);
      for (let i = 0; i < first.length; i += 1024 * 1024) await w.write(first.subarray(i, i + 1024 * 1024));
      await w.commit();
      expect((await driver.stat('/big/data'))?.size).toBe(first.length);
      const w2 = await driver.writer('/big/data', true);
      expect(w2.size).toBe(first.length);
      await w2.write(second);
      await w2.commit();
      const all = await readAll(await driver.reader('/big/data'));
      expect(createHash('sha256').update(all).digest('hex')).toBe(
        createHash('sha256')
          .update(Buffer.concat([first, second]))
          .digest('hex'),
      );
      expect(await readAll(await driver.reader('/big/data', 100, 110))).toEqual(first.subarray(100, 110));
      const cancelled = await driver.writer('/big/data', true);
      await cancelled.write(randomBytes(10));
      await cancelled.cancel();
      expect((await driver.stat('/big/data'))?.size).toBe(first.length + second.length);
      const small = await driver.writer('/small', true);
      await small.write(new TextEncoder().encode('abc'));
      await small.commit();
      const more = await driver.writer('/small', true);
      await more.write(new TextEncoder().encode('def'));
      await more.commit();
      expect(new TextDecoder().decode(await driver.getContent('/small'))).toBe('abcdef');
    });

    describe('the registry on S3', () => {
      let a: Registry;
      let b: Registry;
      beforeAll(() => {
        a = createRegistry({ storage: driver });
        b = createRegistry({
          storage: new S3Driver({
            bucket,
            endpoint,
            accessKeyId: access,
            secretAccessKey: secret,
            rootDirectory: 'registry',
          }),
        });
      });

      it('stores and serves an image, tags, ranges, mounts and deletes', async () => {
        const image = await pushImage(a, 'team/app', 'v1');
        expect((await call(b, 'GET', '/v2/team/app/manifests/v1')).text).toBe(image.manifest);
        const part = await b.fetch(
          new Request(`http://r/v2/team/app/blobs/${image.layerDigest}`, { headers: { Range: 'bytes=0-9' } }),
        );
        expect(part.status).toBe(206);
        expect(Buffer.from(await part.arrayBuffer())).toEqual(image.layer.subarray(0, 10));
        expect(
          (
            await call(a, 'POST', '/v2/team/other/blobs/uploads/', {
              query: { mount: image.layerDigest, from: 'team/app' },
            })
          ).status,
        ).toBe(201);
        expect((await call(a, 'GET', '/v2/team/app/tags/list')).json().tags).toEqual(['v1']);
        expect((await call(a, 'GET', '/v2/_catalog')).json().repositories).toEqual(['team/app', 'team/other']);
        expect((await call(a, 'DELETE', `/v2/team/app/manifests/${image.digest}`)).status).toBe(202);
        expect((await call(b, 'GET', '/v2/team/app/manifests/v1')).status).toBe(404);
      });

      it('continues a chunked upload on another replica and refuses a wrong digest leaving nothing visible', async () => {
        const post = await call(a, 'POST', '/v2/replica/blobs/uploads/');
        const loc = post.headers.get('location')!;
        const one = randomBytes(3 * 1024 * 1024);
        const two = randomBytes(3 * 1024 * 1024);
        expect(
          (await call(a, 'PATCH', loc, { body: one, headers: { 'Content-Range': `0-${one.length - 1}` } })).status,
        ).toBe(202);
        expect((await call(b, 'GET', loc)).headers.get('range')).toBe(`0-${one.length - 1}`);
        expect(
          (await call(b, 'PATCH', loc, { body: one, headers: { 'Content-Range': `0-${one.length - 1}` } })).status,
        ).toBe(416);
        expect(
          (
            await call(b, 'PATCH', loc, {
              body: two,
              headers: { 'Content-Range': `${one.length}-${one.length + two.length - 1}` },
            })
          ).status,
        ).toBe(202);
        const digest = sha256(Buffer.concat([one, two]));
        expect((await call(a, 'PUT', loc, { query: { digest } })).status).toBe(201);
        expect((await call(b, 'HEAD', `/v2/replica/blobs/${digest}`)).headers.get('content-length')).toBe(
          String(one.length + two.length),
        );
        const bad = await call(a, 'POST', '/v2/replica/blobs/uploads/', {
          query: { digest: sha256('other') },
          body: randomBytes(100),
        });
        expect(bad.json().errors[0].code).toBe('DIGEST_INVALID');
        expect((await call(b, 'HEAD', `/v2/replica/blobs/${sha256('other')}`)).status).toBe(404);
      });

      it('round-trips the peer fixtures with skopeo through lade-server on S3', async () => {
        const layout = await peerFixtures({ big: 8 });
        const server: RunningServer = await serve({ registry: a, port: 0 });
        try {
          const host = new URL(server.url).host;
          await pushPeerFixtures(layout, host, ['big', 'multi']);
          for (const tag of ['big', 'multi']) {
            const raw = await runOk('skopeo', [
              'inspect',
              '--raw',
              '--tls-verify=false',
              `docker://${host}/fixtures/${tag}:latest`,
            ]);
            const local = await runOk('skopeo', ['inspect', '--raw', `oci:${layout}:${tag}`]);
            expect(raw).toBe(local);
          }
          const out = await tempDir('lade-s3-out-');
          const copied = await run('skopeo', [
            'copy',
            '-q',
            '--src-tls-verify=false',
            `docker://${host}/fixtures/big:latest`,
            `oci:${out.path}:big`,
          ]);
          await out.cleanup();
          expect(copied.code, copied.stderr).toBe(0);
        } finally {
          await server.close();
        }
      });

      it('collects garbage on S3 without touching referenced blobs', async () => {
        const keep = await pushImage(a, 'gc/keep', 'v1');
        const post = await call(a, 'POST', '/v2/gc/drop/blobs/uploads/', {
          query: { digest: sha256('orphan') },
          body: 'orphan',
        });
        expect(post.status).toBe(201);
        await call(a, 'DELETE', `/v2/gc/drop/blobs/${sha256('orphan')}`);
        const report = await a.collectGarbage({ gracePeriodMs: 0 });
        expect(report.deleted).toContain(sha256('orphan'));
        expect((await call(b, 'GET', `/v2/gc/keep/blobs/${keep.layerDigest}`)).status).toBe(200);
      });
    });
  },
);
