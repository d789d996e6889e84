import { hash } from '@lade/digest';
import {
  buildIndex,
  buildManifest,
  copy,
  type Descriptor,
  EMPTY_JSON,
  emptyConfig,
  MemoryImageStore,
} from '@lade/manifest';
import {
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  runOk,
  startRegistry,
} from '@lade/test-support';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Registry, RegistryClient, referrersTag, registrySink, registrySource } from '../../src/index.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';

async function skopeoDigest(ref: string): Promise<string> {
  return (
    await runOk('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`])
  ).trim();
}

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (let o = 0; o < bytes.byteLength; o += 64 * 1024) c.enqueue(bytes.subarray(o, o + 64 * 1024));
      c.close();
    },
  });
}

function manifestLayers(bytes: Uint8Array): Descriptor[] {
  return (JSON.parse(new TextDecoder().decode(bytes)) as { layers: Descriptor[] }).layers;
}

describe.runIf(peersAvailable('skopeo', 'docker-registry'))('push to a real docker-registry', () => {
  let origin: PeerRegistry; // holds what skopeo pushed
  let target: PeerRegistry; // lade pushes here
  let proxy: FaultProxy; // in front of target
  let client: RegistryClient;
  let store: MemoryImageStore; // big and tricky, pulled once

  beforeAll(async () => {
    const layout = await peerFixtures({ big: 8 });
    origin = await startRegistry();
    target = await startRegistry();
    await pushPeerFixtures(layout, origin.host, ['tricky', 'big', 'amd64', 'arm64', 'multi']);
    proxy = await startFaultProxy(target.host);
    client = new RegistryClient({ credentials: null, retry: { minDelayMs: 10, maxDelayMs: 50 } });
    store = new MemoryImageStore();
    await copy(registrySource(`${origin.host}/fixtures/big:latest`, { client }), store.sink('big'));
    await copy(registrySource(`${origin.host}/fixtures/tricky:latest`, { client }), store.sink('tricky'));
  });
  afterEach(() => {
    proxy.rules.length = 0;
    proxy.seen.length = 0;
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.stop();
    await origin?.stop();
    await target?.stop();
  });

  it('pushes an image whose digest skopeo then reads back identical', async () => {
    const result = await copy(store.source('tricky'), registrySink(`${target.host}/pushed/tricky:v1`, { client }));
    expect(await skopeoDigest(`${target.host}/pushed/tricky:v1`)).toBe(result.root.digest);
    expect(result.root.digest).toBe(await skopeoDigest(`${origin.host}/fixtures/tricky:latest`));
  });

  it('pushes a multi-platform index children first, preserving every digest', async () => {
    const src = registrySource(`${origin.host}/fixtures/multi:latest`, { client });
    const sink = registrySink(`${target.host}/pushed/multi:latest`, { client });
    const result = await copy(src, sink, { all: true });
    expect(result.manifests).toHaveLength(3);
    expect(result.manifests[2]!.digest).toBe(result.root.digest);
    expect(await skopeoDigest(`${target.host}/pushed/multi:latest`)).toBe(
      await skopeoDigest(`${origin.host}/fixtures/multi:latest`),
    );
  });

  it('uploads large blobs in chunks with Content-Range and the result verifies', async () => {
    const small = new RegistryClient({ credentials: null, chunkSize: 256 * 1024 });
    const result = await copy(store.source('big'), registrySink(`${proxy.host}/pushed/big:chunked`, { client: small }));
    await small.close();
    const patches = proxy.seen.filter((s) => s.method === 'PATCH');
    expect(patches.length).toBeGreaterThanOrEqual(8 * 4 - 4);
    expect(patches[0]!.headers['content-range']).toMatch(/^0-262143$/);
    expect(await skopeoDigest(`${target.host}/pushed/big:chunked`)).toBe(result.root.digest);
  });

  it('resumes a chunked upload whose connection drops mid-chunk', async () => {
    const small = new RegistryClient({ credentials: null, chunkSize: 512 * 1024, retry: { minDelayMs: 10 } });
    const r = small.registry(proxy.host);
    const big = store.resolve('big')!;
    const layer = manifestLayers(store.getManifest(big.digest)!.bytes)[2]!;
    // Let the first chunk through, drop the connection 100 kB into the second.
    proxy.rules.push({
      method: 'PATCH',
      path: /\/blobs\/uploads\//,
      skip: 1,
      times: 1,
      action: { kind: 'drop-request', afterBytes: 100_000 },
    });
    const bytes = store.getBlob(layer.digest)!;
    const outcome = await r.uploadBlob('pushed/resume', layer, streamOf(bytes));
    await small.close();
    expect(outcome).toBe('uploaded');
    const statusChecks = proxy.seen.filter((s) => s.method === 'GET' && /\/blobs\/uploads\//.test(s.url));
    // Node's transport surfaces the broken connection and lade asks the registry where it stands; Deno's fetch
    // may resend the (replayable) chunk by itself first. Either way the second chunk goes again from its start.
    expect(statusChecks.length).toBeLessThanOrEqual(1);
    const patches = proxy.seen.filter((s) => s.method === 'PATCH').map((s) => s.headers['content-range']);
    expect(patches.slice(0, 3)).toEqual(['0-524287', '524288-1048575', '524288-1048575']);
    const check = new Registry(target.host, { credentials: null });
    expect(await check.headBlob('pushed/resume', layer.digest)).toBe(layer.size);
    const back = new Uint8Array(
      await new Response(await check.openBlob('pushed/resume', layer, { verify: true })).arrayBuffer(),
    );
    await check.close();
    expect(hash(back)).toBe(layer.digest);
  });

  it('follows relative upload Locations as well as absolute ones', async () => {
    proxy.rules.push({ path: /\/blobs\/uploads\//, times: 100, action: { kind: 'relative-location' } });
    const small = new RegistryClient({ credentials: null, chunkSize: 512 * 1024 });
    const big = store.resolve('big')!;
    const layer = manifestLayers(store.getManifest(big.digest)!.bytes)[0]!;
    expect(
      await small.registry(proxy.host).uploadBlob('pushed/relative', layer, streamOf(store.getBlob(layer.digest)!)),
    ).toBe('uploaded');
    await small.close();
    expect(proxy.seen.filter((s) => s.method === 'PATCH').length).toBeGreaterThan(1);
    expect(await client.registry(target.host).headBlob('pushed/relative', layer.digest)).toBe(layer.size);
  });

  it('completes an upload whose final answer was lost: the retried PUT finds the session closed, a HEAD finds the blob', async () => {
    const bytes = new TextEncoder().encode('final answer lost');
    const d = { digest: hash(bytes), size: bytes.byteLength };
    proxy.rules.push({ method: 'PUT', path: /\/blobs\/uploads\//, times: 1, action: { kind: 'drop-response' } });
    const r = client.registry(proxy.host);
    expect(await r.uploadBlob('pushed/lost-answer', d, bytes)).toBe('uploaded');
    expect(proxy.seen.filter((s) => s.method === 'PUT')).toHaveLength(2);
    expect(await r.headBlob('pushed/lost-answer', d.digest)).toBe(bytes.byteLength);
  });

  it('skips blobs the repository already has', async () => {
    const sink = registrySink(`${target.host}/pushed/tricky:again`, { client });
    const events: string[] = [];
    await copy(store.source('tricky'), sink, { onProgress: (e) => events.push(e.type) });
    expect(events.filter((e) => e === 'exists')).toHaveLength(3);
  });

  it('mounts blobs from another repository of the same registry', async () => {
    const events: string[] = [];
    const src = registrySource(`${target.host}/pushed/tricky:v1`, { client });
    await copy(src, registrySink(`${target.host}/mounted/tricky:v1`, { client }), {
      onProgress: (e) => events.push(e.type),
    });
    expect(events.filter((e) => e === 'mounted')).toHaveLength(3);
    expect(events).not.toContain('downloading');
  });

  it('falls back to uploading when the registry refuses to mount', async () => {
    // A registry that ignores ?mount= answers 202 with a fresh session, as distribution does for an unknown source.
    proxy.rules.push({ method: 'POST', path: /mount=/, times: 10, action: { kind: 'strip-query', param: 'mount' } });
    const events: string[] = [];
    const src = registrySource(`${proxy.host}/pushed/tricky:v1`, { client });
    const result = await copy(src, registrySink(`${proxy.host}/refused/tricky:v1`, { client }), {
      onProgress: (e) => events.push(e.type),
    });
    expect(events).not.toContain('mounted');
    expect(events.filter((e) => e === 'complete')).toHaveLength(3);
    expect(await skopeoDigest(`${target.host}/refused/tricky:v1`)).toBe(result.root.digest);
    // The refused mount's sessions were cancelled.
    expect(proxy.seen.filter((s) => s.method === 'DELETE' && /uploads/.test(s.url))).toHaveLength(3);
  });

  it('uses the session of a refused mount for the upload itself', async () => {
    const r = client.registry(target.host);
    const bytes = new TextEncoder().encode('refused mount fallback');
    const d = { digest: hash(bytes), size: bytes.byteLength };
    expect(await r.uploadBlob('pushed/own', d, bytes, { mountFrom: ['no/such-repo'] })).toBe('uploaded');
    expect(await r.headBlob('pushed/own', d.digest)).toBe(bytes.byteLength);
    expect(await r.uploadBlob('pushed/own2', d, bytes, { mountFrom: ['pushed/own'] })).toBe('mounted');
    expect(await r.uploadBlob('pushed/own2', d, bytes)).toBe('exists');
  });

  it('pushes a manifest by digest and checks Docker-Content-Digest', async () => {
    const r = client.registry(target.host);
    const tricky = store.resolve('tricky')!;
    const bytes = store.getManifest(tricky.digest)!.bytes;
    const digest = await r.putManifest('pushed/tricky', tricky.digest, bytes, tricky.mediaType);
    expect(digest).toBe(tricky.digest);
    await expect(
      r.putManifest('pushed/tricky', `sha256:${'0'.repeat(64)}`, bytes, tricky.mediaType),
    ).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
  });

  it('refuses a manifest whose bytes do not match its descriptor and pushes nothing', async () => {
    const sink = registrySink(`${target.host}/pushed/bad:1`, { client });
    const tricky = store.resolve('tricky')!;
    const bytes = store.getManifest(tricky.digest)!.bytes;
    const wrong = { ...tricky, digest: hash(new TextEncoder().encode('other')) };
    await expect(sink.writeManifest(wrong, bytes, { root: true })).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await client.registry(target.host).headManifest('pushed/bad', '1')).toBeUndefined();
  });

  it('refuses a blob whose stream is shorter than its descriptor and leaves no blob', async () => {
    const r = client.registry(proxy.host);
    const bytes = new TextEncoder().encode('short content');
    const d = { digest: hash(bytes), size: bytes.byteLength + 5 };
    await expect(r.uploadBlob('pushed/short', d, streamOf(bytes))).rejects.toMatchObject({ code: 'SIZE_INVALID' });
    expect(await r.headBlob('pushed/short', d.digest)).toBeUndefined();
    expect(proxy.seen.some((s) => s.method === 'DELETE' && /uploads/.test(s.url))).toBe(true);
  });

  it('cancels the upload session when aborted', async () => {
    const small = new RegistryClient({ credentials: null, chunkSize: 64 * 1024 });
    const r = small.registry(proxy.host);
    const ac = new AbortController();
    let sent = 0;
    const content = new ReadableStream<Uint8Array>({
      pull(c) {
        sent += 64 * 1024;
        if (sent > 256 * 1024) ac.abort(new Error('user abort'));
        c.enqueue(new Uint8Array(64 * 1024));
      },
    });
    const err = await r
      .uploadBlob('pushed/aborted', { digest: hash('x'), size: 10 * 1024 * 1024 }, content, { signal: ac.signal })
      .catch((e: unknown) => e);
    await small.close();
    expect((err as Error).message).toBe('user abort');
    expect(proxy.seen.some((s) => s.method === 'DELETE' && /uploads/.test(s.url))).toBe(true);
  });

  it('is refused an index that references a manifest the repository lacks', async () => {
    const r = client.registry(target.host);
    const { bytes, descriptor } = buildIndex({
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: hash('missing'),
          size: 7,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    });
    const err = await r.putManifest('pushed/broken', 'latest', bytes, descriptor.mediaType).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MANIFEST_BLOB_UNKNOWN', status: 400 });
  });

  it('deletes a manifest and a blob', async () => {
    const r = client.registry(target.host);
    const src = registrySource(`${origin.host}/fixtures/arm64:latest`, { client });
    const { root } = await copy(src, registrySink(`${target.host}/pushed/del:1`, { client }));
    await r.deleteManifest('pushed/del', root.digest);
    expect(await r.headManifest('pushed/del', root.digest)).toBeUndefined();
    const layer = manifestLayers(await src.fetchManifest(root))[0]!;
    await r.deleteBlob('pushed/del', layer.digest);
    expect(await r.headBlob('pushed/del', layer.digest)).toBeUndefined();
    await expect(r.deleteBlob('pushed/del', layer.digest)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
  });

  it('records a referrer in the sha256-<hex> fallback tag when the registry lacks the referrers API', async () => {
    const r = client.registry(target.host);
    const subject = await r.resolve('pushed/tricky', 'v1');
    expect(await r.referrers('pushed/tricky', subject.digest)).toEqual([]);
    await r.uploadBlob('pushed/tricky', emptyConfig, EMPTY_JSON);
    const sbom = buildManifest({
      config: emptyConfig,
      layers: [],
      artifactType: 'application/vnd.lade.test+json',
      subject,
      annotations: { 'org.lade.kind': 'sbom' },
    });
    await r.putManifest('pushed/tricky', sbom.descriptor.digest, sbom.bytes, sbom.descriptor.mediaType);
    expect((await r.listTags('pushed/tricky')).includes(referrersTag(subject.digest))).toBe(true);
    const refs = await r.referrers('pushed/tricky', subject.digest);
    expect(refs).toEqual([{ ...sbom.descriptor, annotations: { 'org.lade.kind': 'sbom' } }]);
    expect(await r.referrers('pushed/tricky', subject.digest, { artifactType: 'application/other' })).toEqual([]);
  });
});
