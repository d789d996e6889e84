import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hash } from '@lade/digest';
import { copy, type Descriptor, MemoryImageStore } from '@lade/manifest';
import { type PeerRegistry, peerFixtures, peersAvailable, pushPeerFixtures, startRegistry } from '@lade/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Registry,
  RegistryClient,
  RegistryConnectionError,
  registrySource,
  TooManyRequestsError,
} from '../../src/index.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';

const blobPath = /\/blobs\/sha256:/;

describe.runIf(peersAvailable('skopeo', 'docker-registry'))(
  'pull through faults in front of a real docker-registry',
  () => {
    let reg: PeerRegistry;
    let proxy: FaultProxy;
    let client: RegistryClient;

    beforeAll(async () => {
      const layout = await peerFixtures({ big: 8 });
      reg = await startRegistry();
      await pushPeerFixtures(layout, reg.host, ['big', 'amd64']);
      proxy = await startFaultProxy(reg.host);
      client = new RegistryClient({ credentials: null, retry: { minDelayMs: 10, maxDelayMs: 50 } });
    });
    afterEach(() => {
      proxy.rules.length = 0;
      proxy.seen.length = 0;
    });
    afterAll(async () => {
      await client?.close();
      await proxy?.stop();
      await reg?.stop();
    });

    it('resumes a blob whose connection drops mid-transfer with Range and the digest still verifies', async () => {
      proxy.rules.push({ method: 'GET', path: blobPath, times: 2, action: { kind: 'truncate', afterBytes: 300_000 } });
      const store = new MemoryImageStore();
      const result = await copy(registrySource(`${proxy.host}/fixtures/big:latest`, { client }), store.sink('big'));
      expect(result.blobs).toBe(5);
      const ranged = proxy.seen.filter((r) => r.headers.range);
      if (typeof (globalThis as { Deno?: unknown }).Deno === 'undefined') {
        expect(ranged.length).toBeGreaterThanOrEqual(1);
        for (const r of ranged) expect(r.headers.range).toBe('bytes=300000-');
      } else {
        // Deno's fetch may drop the bytes that came with the broken body: the resume then starts earlier.
        expect(proxy.seen.filter((s) => blobPath.test(s.url)).length).toBeGreaterThanOrEqual(6);
      }
      for (const [digest, bytes] of store.blobs) expect(hash(bytes)).toBe(digest);
    });

    it('resumes a blob dropped twice in a row within the same layer', async () => {
      proxy.rules.push({
        method: 'GET',
        path: blobPath,
        withHeader: 'range',
        times: 1,
        action: { kind: 'truncate', afterBytes: 1000 },
      });
      proxy.rules.push({ method: 'GET', path: blobPath, times: 1, action: { kind: 'truncate', afterBytes: 5000 } });
      const r = client.registry(proxy.host);
      const { bytes } = await r.getManifest('fixtures/big', 'latest');
      const layer = (JSON.parse(new TextDecoder().decode(bytes)) as { layers: { digest: string; size: number }[] })
        .layers[1]!;
      const got = new Uint8Array(
        await new Response(await r.openBlob('fixtures/big', layer as never, { verify: true })).arrayBuffer(),
      );
      expect(hash(got)).toBe(layer.digest);
      const ranges = proxy.seen.filter((s) => s.headers.range).map((s) => s.headers.range);
      if (typeof (globalThis as { Deno?: unknown }).Deno === 'undefined') {
        expect(ranges).toEqual(['bytes=5000-', 'bytes=6000-']);
      } else {
        // Deno's fetch may discard the bytes that arrived with a broken body, or fail the exchange before the body:
        // it then resumes from an earlier offset (or starts over), and the digest still has to verify.
        expect(proxy.seen.filter((s) => blobPath.test(s.url)).length).toBeGreaterThanOrEqual(2);
      }
    });

    it('rejects a blob whose bytes are wrong and leaves the store without it', async () => {
      proxy.rules.push({ method: 'GET', path: blobPath, times: 100, action: { kind: 'corrupt' } });
      const src = registrySource(`${proxy.host}/fixtures/amd64:latest`, { client });
      const manifest = JSON.parse(new TextDecoder().decode(await src.fetchManifest(await src.resolve()))) as {
        layers: Descriptor[];
      };
      const layer = manifest.layers[0]!;
      const store = new MemoryImageStore();
      const err = await store
        .sink('amd64')
        .writeBlob(layer, await src.openBlob(layer))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DIGEST_INVALID' });
      expect(store.blobs.size).toBe(0);
      // Verified reads of the registry client reject it too, before the stream ends.
      const verified = await client.registry(proxy.host).openBlob('fixtures/amd64', layer, { verify: true });
      await expect(new Response(verified).arrayBuffer()).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    });

    it('fails a pull whose layer bytes are wrong with DIGEST_INVALID and tags nothing', async () => {
      proxy.rules.push({ method: 'GET', path: blobPath, times: 100, action: { kind: 'corrupt' } });
      const store = new MemoryImageStore();
      const err = await copy(
        registrySource(`${proxy.host}/fixtures/amd64:latest`, { client }),
        store.sink('amd64'),
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DIGEST_INVALID' });
      expect(store.blobs.size).toBe(0);
      expect(store.tags.size).toBe(0);
    });

    it('waits out a 429 with Retry-After and then succeeds', async () => {
      proxy.rules.push({
        method: 'HEAD',
        path: /\/manifests\//,
        times: 1,
        action: { kind: 'status', status: 429, headers: { 'retry-after': '1' } },
      });
      const t0 = Date.now();
      const d = await registrySource(`${proxy.host}/fixtures/amd64:latest`, { client }).resolve();
      expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
      expect(d.digest).toMatch(/^sha256:/);
    });

    it('fails at once with TOOMANYREQUESTS when Retry-After is beyond the bound', async () => {
      const body = JSON.stringify({ errors: [{ code: 'TOOMANYREQUESTS', message: 'slow down' }] });
      proxy.rules.push({
        method: 'GET',
        path: /\/manifests\//,
        times: 1,
        action: { kind: 'status', status: 429, headers: { 'retry-after': '3600' }, body },
      });
      const t0 = Date.now();
      const err = await client
        .registry(proxy.host)
        .getManifest('fixtures/amd64', 'latest')
        .catch((e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(err).toBeInstanceOf(TooManyRequestsError);
      expect((err as TooManyRequestsError).retryAfterMs).toBe(3_600_000);
      expect((err as TooManyRequestsError).registryMessage).toBe('toomanyrequests: slow down');
    });

    it('retries 500s and 503s with backoff and then succeeds', async () => {
      proxy.rules.push({ method: 'GET', path: /\/manifests\//, times: 2, action: { kind: 'status', status: 500 } });
      proxy.rules.push({ method: 'GET', path: blobPath, times: 1, action: { kind: 'status', status: 503 } });
      const result = await copy(
        registrySource(`${proxy.host}/fixtures/amd64:latest`, { client }),
        new MemoryImageStore().sink('x'),
      );
      expect(result.root.digest).toMatch(/^sha256:/);
      expect(proxy.seen.filter((s) => s.method === 'GET' && /manifests/.test(s.url)).length).toBeGreaterThanOrEqual(3);
    });

    it('rejects a manifest whose bytes do not match the Docker-Content-Digest the registry sent', async () => {
      const body =
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}';
      proxy.rules.push({
        method: 'GET',
        path: /\/manifests\/latest/,
        action: {
          kind: 'status',
          status: 200,
          headers: {
            'content-type': 'application/vnd.oci.image.manifest.v1+json',
            'docker-content-digest': hash('other'),
          },
          body,
        },
      });
      await expect(client.registry(proxy.host).getManifest('fixtures/amd64', 'latest')).rejects.toMatchObject({
        code: 'DIGEST_INVALID',
      });
    });

    it('refuses a manifest over 4 MiB without reading it', async () => {
      proxy.rules.push({
        method: 'GET',
        path: /\/manifests\/latest/,
        action: {
          kind: 'status',
          status: 200,
          headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          body: 'x'.repeat(4 * 1024 * 1024 + 1),
        },
      });
      await expect(client.registry(proxy.host).getManifest('fixtures/amd64', 'latest')).rejects.toMatchObject({
        code: 'SIZE_INVALID',
      });
    });

    it('reports a blob that keeps failing mid-transfer once the resumes are spent, naming the URL', async () => {
      proxy.rules.push({ method: 'GET', path: blobPath, times: 100, action: { kind: 'truncate', afterBytes: 0 } });
      const r = client.registry(proxy.host);
      const { bytes } = await r.getManifest('fixtures/big', 'latest');
      const layer = (JSON.parse(new TextDecoder().decode(bytes)) as { layers: { digest: string; size: number }[] })
        .layers[0]!;
      const err = await r
        .openBlob('fixtures/big', layer as never, { maxResumes: 2 })
        .then((s) => new Response(s).arrayBuffer())
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'UNAVAILABLE' });
      expect((err as Error).message).toContain(`http://${proxy.host}/v2/fixtures/big/blobs/${layer.digest}`);
      expect(proxy.seen.filter((q) => blobPath.test(q.url)).length).toBeGreaterThanOrEqual(3);
    });

    it('times out a registry that never answers, as configured', async () => {
      proxy.rules.push({ method: 'GET', path: /\/manifests\//, times: 10, action: { kind: 'hang' } });
      const r = new Registry(proxy.host, {
        credentials: null,
        timeouts: { headersMs: 300 },
        retry: { retries: 1, minDelayMs: 10 },
      });
      const t0 = Date.now();
      const err = await r.getManifest('fixtures/amd64', 'latest').catch((e: unknown) => e);
      await r.close();
      expect(err).toBeInstanceOf(RegistryConnectionError);
      expect((err as RegistryConnectionError).failure).toBe('timeout');
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(proxy.seen.filter((s) => /manifests/.test(s.url))).toHaveLength(2);
    });

    it('gives up after the configured retries with the registry status in the error', async () => {
      const r = new Registry(proxy.host, { credentials: null, retry: { retries: 2, minDelayMs: 5 } });
      proxy.rules.push({ method: 'GET', path: /\/manifests\//, times: 10, action: { kind: 'status', status: 502 } });
      const err = await r.getManifest('fixtures/amd64', 'latest').catch((e: unknown) => e);
      await r.close();
      expect(err).toMatchObject({ code: 'UNAVAILABLE', status: 502 });
      expect(proxy.seen.filter((s) => /manifests/.test(s.url))).toHaveLength(3);
    });
  },
);

describe.runIf(peersAvailable('skopeo', 'docker-registry', 'htpasswd'))('redirects to blob storage', () => {
  let reg: PeerRegistry;
  let proxy: FaultProxy;

  beforeAll(async () => {
    const layout = await peerFixtures({ big: 8 });
    reg = await startRegistry({ auth: 'lade:s3cret' });
    const { runOk } = await import('@lade/test-support');
    await runOk('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      '--dest-creds',
      'lade:s3cret',
      `oci:${layout}:amd64`,
      `docker://${reg.host}/fixtures/amd64:latest`,
    ]);
    proxy = await startFaultProxy(reg.host);
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  it('follows a redirect to another host without sending the registry credentials there', async () => {
    const r = new Registry(proxy.host, { credentials: { username: 'lade', password: 's3cret' } });
    const { bytes } = await r.getManifest('fixtures/amd64', 'latest');
    const layer = (JSON.parse(new TextDecoder().decode(bytes)) as { layers: { digest: string; size: number }[] })
      .layers[0]!;
    const blob = new Uint8Array(await new Response(await r.openBlob('fixtures/amd64', layer as never)).arrayBuffer());
    // "Blob storage": another origin serving the bytes, recording what it was sent.
    const storageSeen: (string | undefined)[] = [];
    const storage = createServer((req, res) => {
      storageSeen.push(req.headers.authorization);
      res.writeHead(200, { 'content-length': String(blob.byteLength) });
      res.end(blob);
    });
    await new Promise<void>((ok) => storage.listen(0, '127.0.0.2', ok));
    const storageUrl = `http://127.0.0.2:${(storage.address() as AddressInfo).port}/blob?sig=1`;
    proxy.rules.push({
      method: 'GET',
      path: blobPath,
      times: 1,
      action: { kind: 'status', status: 307, headers: { location: storageUrl } },
    });
    const got = new Uint8Array(
      await new Response(await r.openBlob('fixtures/amd64', layer as never, { verify: true })).arrayBuffer(),
    );
    await r.close();
    await new Promise<void>((ok) => storage.close(() => ok()));
    expect(hash(got)).toBe(layer.digest);
    expect(storageSeen).toEqual([undefined]);
    // The registry itself did get credentials.
    expect(proxy.seen.some((s) => s.headers.authorization?.startsWith('Basic '))).toBe(true);
  });
});
