// Bounded load and fault tests on loopback: concurrent pushes and pulls through the Node adapter, and kill -9 of a
// lade-server process in the middle of uploads followed by a restart on the same storage.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { entryArgv, freePort, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, FilesystemDriver, type RunningServer, serve } from '../src/index.js';
import { sha256 } from './helpers.js';

const serverArgv = () =>
  entryArgv(
    fileURLToPath(new URL('../src/main.ts', import.meta.url)),
    fileURLToPath(new URL('../dist/main.js', import.meta.url)),
  );

const f = (url: string, init: RequestInit = {}) => fetch(url, init);

async function push(base: string, repo: string, tag: string, seed: string) {
  const blobs = [Buffer.from(JSON.stringify({ os: 'linux', architecture: 'amd64', seed })), randomBytes(4096)];
  const digests: string[] = [];
  for (const b of blobs) {
    const d = sha256(b);
    const post = await f(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    await post.arrayBuffer();
    const loc = new URL(post.headers.get('location')!, base);
    const patch = await f(loc.href, { method: 'PATCH', body: b, headers: { 'Content-Range': `0-${b.length - 1}` } });
    await patch.arrayBuffer();
    loc.searchParams.set('digest', d);
    const put = await f(loc.href, { method: 'PUT' });
    await put.arrayBuffer();
    if (put.status !== 201) throw new Error(`blob PUT ${put.status}`);
    digests.push(d);
  }
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digests[0], size: blobs[0]!.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: digests[1], size: blobs[1]!.length }],
  });
  const put = await f(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await put.arrayBuffer();
  if (put.status !== 201) throw new Error(`manifest PUT ${put.status}`);
  return { manifest, digests, blobs };
}

describe('load', () => {
  let server: RunningServer;
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir('lade-server-load-');
    server = await serve({ registry: createRegistry({ storage: new FilesystemDriver(dir.path) }), port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('takes 200 concurrent pushes of distinct images with nothing lost or corrupted', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => push(server.url, `load/img${i}`, 'v1', `seed-${i}`)),
    );
    const bad: string[] = [];
    await Promise.all(
      results.map(async (r, i) => {
        const m = await f(`${server.url}/v2/load/img${i}/manifests/v1`);
        if ((await m.text()) !== r.manifest) bad.push(`manifest ${i}`);
        for (const [j, d] of r.digests.entries()) {
          const b = Buffer.from(await (await f(`${server.url}/v2/load/img${i}/blobs/${d}`)).arrayBuffer());
          if (!b.equals(r.blobs[j]!)) bad.push(`blob ${i}/${j}`);
        }
      }),
    );
    expect(bad).toEqual([]);
  });

  it('serves 1000 concurrent pulls of one image with every byte verified', async () => {
    const image = await push(server.url, 'load/popular', 'latest', 'popular');
    let corrupted = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: 1000 }, async () => {
        try {
          const m = await f(`${server.url}/v2/load/popular/manifests/latest`);
          const text = await m.text();
          if (m.headers.get('docker-content-digest') !== sha256(text)) corrupted++;
          const layer = await f(`${server.url}/v2/load/popular/blobs/${image.digests[1]}`);
          const bytes = Buffer.from(await layer.arrayBuffer());
          if (`sha256:${createHash('sha256').update(bytes).digest('hex')}` !== image.digests[1]) corrupted++;
        } catch {
          failed++;
        }
      }),
    );
    expect({ corrupted, failed }).toEqual({ corrupted: 0, failed: 0 });
  });
});

describe('kill -9 during uploads', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir('lade-server-kill-');
  });
  afterAll(async () => dir.cleanup());

  async function start(port: number): Promise<ChildProcess> {
    const child = spawn(
      serverArgv()[0],
      [...serverArgv().slice(1), '--root', dir.path, '--addr', `127.0.0.1:${port}`, '--no-access-log'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr!.on('data', (c) => (err += c));
    for (let i = 0; i < 200 && !err.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
    if (!err.includes('listening')) throw new Error(`lade-server did not start: ${err}`);
    return child;
  }

  it('leaves no partially visible blob after 20 kills mid-upload, and every upload resumes to a correct blob', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    for (let round = 0; round < 20; round++) {
      let child = await start(port);
      const content = randomBytes(6 * 1024 * 1024);
      const digest = sha256(content);
      const post = await fetch(`${base}/v2/kill/r${round}/blobs/uploads/`, { method: 'POST' });
      const loc = new URL(post.headers.get('location')!, base);
      // stream the blob monolithically (PUT with digest) slowly, and kill the server half way
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(c) {
          if (sent >= content.length) return c.close();
          if (sent >= content.length / 2) await new Promise((r) => setTimeout(r, 20));
          c.enqueue(content.subarray(sent, sent + 256 * 1024));
          sent += 256 * 1024;
        },
      });
      const putUrl = new URL(loc);
      putUrl.searchParams.set('digest', digest);
      const put = fetch(putUrl, { method: 'PUT', body, duplex: 'half' } as RequestInit).then(
        (r) => r.status,
        () => 'aborted',
      );
      while (sent < content.length / 2 + 512 * 1024) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      expect(await put).toBe('aborted');
      child = await start(port);
      try {
        expect((await fetch(`${base}/v2/kill/r${round}/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
        const status = await fetch(loc, { method: 'GET' });
        expect(status.status).toBe(204);
        const [, end] = status.headers.get('range')!.split('-').map(Number) as [number, number];
        const have = end === 0 ? 0 : end + 1;
        expect(have).toBeGreaterThan(0);
        expect(have).toBeLessThan(content.length);
        const rest = new URL(loc);
        rest.searchParams.set('digest', digest);
        const finish = await fetch(rest, {
          method: 'PUT',
          body: content.subarray(have),
          headers: { 'Content-Range': `${have}-${content.length - 1}` },
        });
        expect(finish.status).toBe(201);
        const back = Buffer.from(await (await fetch(`${base}/v2/kill/r${round}/blobs/${digest}`)).arrayBuffer());
        expect(back.equals(content)).toBe(true);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.on('exit', r));
      }
    }
  }, 240_000);
});
