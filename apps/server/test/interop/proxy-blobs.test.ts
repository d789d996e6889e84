import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PeerRegistry, peersAvailable, startRegistry, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRegistry,
  FilesystemDriver,
  PullThroughCache,
  type Registry,
  type RunningServer,
  serve,
} from '../../src/index.js';
import { sha256 } from '../helpers.js';

const CREDS = 'up:secret';
const basicUp = `Basic ${Buffer.from(CREDS).toString('base64')}`;

/** Pushes a blob into the distribution registry (POST then PUT, as distribution 2.8 wants). */
async function pushUpstream(upstream: PeerRegistry, repo: string, bytes: Uint8Array): Promise<string> {
  const digest = sha256(bytes);
  const post = await fetch(`${upstream.url}/v2/${repo}/blobs/uploads/`, {
    method: 'POST',
    headers: { Authorization: basicUp },
  });
  expect(post.status).toBe(202);
  const location = new URL(post.headers.get('location')!, upstream.url);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { Authorization: basicUp, 'Content-Type': 'application/octet-stream' },
    body: bytes as BodyInit,
  });
  expect(put.status).toBe(201);
  return digest;
}

/** Upstream requests the cache made, as seen through its fetch (the upstream itself is the real distribution registry). */
interface UpstreamCall {
  method: string;
  path: string;
  range: string | undefined;
  status: number;
}

function countingFetch(calls: UpstreamCall[]): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    calls.push({
      method: init?.method ?? 'GET',
      path: url.pathname,
      range: headers.get('range') ?? undefined,
      status: res.status,
    });
    return res;
  };
}

const wholeGets = (calls: UpstreamCall[], digest: string) =>
  calls.filter((c) => c.method === 'GET' && c.range === undefined && c.status === 200 && c.path.endsWith(digest))
    .length;

async function readAll(body: ReadableStream<Uint8Array> | null): Promise<Buffer> {
  return Buffer.from(await new Response(body).arrayBuffer());
}

/** Reads a blob straight from the cache's storage (undefined while it is not visible in the repository). */
async function cached(registry: Registry, repo: string, digest: string): Promise<Buffer | undefined> {
  const info = await registry.store.repoBlob(repo, digest as never);
  if (!info) return undefined;
  return readAll((await registry.store.openBlob(digest as never))!);
}

/** Polls until the blob is visible in the cache, checking on every look that whatever is visible is the whole, right blob. */
async function waitCached(registry: Registry, repo: string, digest: string, timeoutMs = 20_000): Promise<Buffer> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const bytes = await cached(registry, repo, digest);
    if (bytes) {
      expect(sha256(bytes)).toBe(digest);
      return bytes;
    }
    if (Date.now() > until) throw new Error(`blob ${digest} was not cached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.runIf(peersAvailable('docker-registry'))('pull-through cache: blob ranges, sharing and faults', () => {
  let upstream: PeerRegistry;
  let dir: { path: string; cleanup: () => Promise<void> };
  const blobs: Record<string, { bytes: Buffer; digest: string }> = {};
  let n = 0;

  beforeAll(async () => {
    upstream = await startRegistry({ auth: CREDS });
    dir = await tempDir('lade-proxy-blobs-');
    for (const [name, size] of [
      ['small', 300_000],
      ['head', 200_000],
      ['shared', 24 * 1024 * 1024],
      ['dropped', 24 * 1024 * 1024],
    ] as const) {
      const bytes = randomBytes(size);
      blobs[name] = { bytes, digest: await pushUpstream(upstream, 'lib/data', bytes) };
    }
  });
  afterAll(async () => {
    await upstream?.stop();
    await dir?.cleanup();
  });

  /** A fresh cache (its own storage) in front of the upstream, and the upstream calls it makes. */
  function makeCache(options: { stalledClientMs?: number } = {}): { registry: Registry; calls: UpstreamCall[] } {
    const calls: UpstreamCall[] = [];
    const proxy = new PullThroughCache({
      remoteUrl: upstream.url,
      username: 'up',
      password: 'secret',
      fetch: countingFetch(calls),
      ...options,
    });
    const registry = createRegistry({ storage: new FilesystemDriver(join(dir.path, `cache-${n++}`)), proxy });
    return { registry, calls };
  }

  it('answers a Range GET of an uncached blob with 206 and the exact bytes, then caches the whole blob once', async () => {
    const { registry, calls } = makeCache();
    const { bytes, digest } = blobs.small!;
    const size = bytes.byteLength;
    const ranges: [string, number, number][] = [
      ['bytes=1000-1999', 1000, 1999],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=${size - 10}-`, size - 10, size - 1],
      [`bytes=5-${size + 100}`, 5, size - 1],
    ];
    for (const [range, start, end] of ranges) {
      const res = await registry.fetch(
        new Request(`http://cache.test/v2/lib/data/blobs/${digest}`, { headers: { Range: range } }),
      );
      expect({ range, status: res.status }).toEqual({ range, status: 206 });
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(res.headers.get('content-length')).toBe(String(end - start + 1));
      expect(res.headers.get('docker-content-digest')).toBe(digest);
      expect((await readAll(res.body)).equals(bytes.subarray(start, end + 1))).toBe(true);
    }
    const stored = await waitCached(registry, 'lib/data', digest);
    expect(stored.equals(bytes)).toBe(true);
    expect(wholeGets(calls, digest)).toBe(1);
    // now served from the cache: no more upstream traffic for this blob, still 206
    const before = calls.length;
    const res = await registry.fetch(
      new Request(`http://cache.test/v2/lib/data/blobs/${digest}`, { headers: { Range: 'bytes=10-19' } }),
    );
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 10-19/${size}`);
    expect((await readAll(res.body)).equals(bytes.subarray(10, 20))).toBe(true);
    expect(calls.slice(before).filter((c) => c.path.endsWith(digest))).toEqual([]);
  });

  it('refuses a range outside an uncached blob with 416 and Content-Range bytes */size', async () => {
    const { registry } = makeCache();
    const { bytes, digest } = blobs.small!;
    const res = await registry.fetch(
      new Request(`http://cache.test/v2/lib/data/blobs/${digest}`, {
        headers: { Range: `bytes=${bytes.byteLength + 5}-` },
      }),
    );
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${bytes.byteLength}`);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('RANGE_INVALID');
  });

  it('answers HEAD of an uncached blob with its size, 206 and Content-Range when a range is asked, caching nothing', async () => {
    const { registry, calls } = makeCache();
    const { bytes, digest } = blobs.head!;
    const size = bytes.byteLength;
    const head = await registry.fetch(new Request(`http://cache.test/v2/lib/data/blobs/${digest}`, { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(size));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    const ranged = await registry.fetch(
      new Request(`http://cache.test/v2/lib/data/blobs/${digest}`, {
        method: 'HEAD',
        headers: { Range: 'bytes=100-199' },
      }),
    );
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${size}`);
    expect(ranged.headers.get('content-length')).toBe('100');
    const outside = await registry.fetch(
      new Request(`http://cache.test/v2/lib/data/blobs/${digest}`, {
        method: 'HEAD',
        headers: { Range: `bytes=${size}-` },
      }),
    );
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe(`bytes */${size}`);
    expect(wholeGets(calls, digest)).toBe(0);
    expect(await cached(registry, 'lib/data', digest)).toBeUndefined();
    const missing = await registry.fetch(
      new Request(`http://cache.test/v2/lib/data/blobs/${sha256('not there')}`, { method: 'HEAD' }),
    );
    expect(missing.status).toBe(404);
  });

  it('concurrent GETs of one uncached blob (early and late) all get the right bytes from a single upstream fetch', async () => {
    const { registry, calls } = makeCache();
    const server: RunningServer = await serve({ port: 0, registry });
    const { bytes, digest } = blobs.shared!;
    try {
      const url = `${server.url}/v2/lib/data/blobs/${digest}`;
      const pull = async () => {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        return sha256(await readAll(res.body));
      };
      const early = [pull(), pull(), pull()];
      // one more that has already received bytes when the late ones arrive
      const slow = await fetch(url);
      const reader = slow.body!.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      const late = [pull(), pull()];
      const rest: Uint8Array[] = [first.value!];
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        rest.push(value);
      }
      expect(sha256(Buffer.concat(rest))).toBe(digest);
      expect(await Promise.all([...early, ...late])).toEqual(Array(5).fill(digest));
      expect((await waitCached(registry, 'lib/data', digest)).equals(bytes)).toBe(true);
      expect(wholeGets(calls, digest)).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('a client that reads nothing is cut off after stalledClientMs and does not stall the others', async () => {
    const { registry, calls } = makeCache({ stalledClientMs: 300 });
    const { bytes, digest } = blobs.shared!;
    const url = `http://cache.test/v2/lib/data/blobs/${digest}`;
    const [stalled, reading] = await Promise.all([registry.fetch(new Request(url)), registry.fetch(new Request(url))]);
    expect([stalled.status, reading.status]).toEqual([200, 200]);
    const started = Date.now();
    expect(sha256(await readAll(reading.body))).toBe(digest);
    expect(Date.now() - started).toBeLessThan(15_000);
    await expect(readAll(stalled.body)).rejects.toThrow(/read nothing/);
    expect((await waitCached(registry, 'lib/data', digest)).equals(bytes)).toBe(true);
    expect(wholeGets(calls, digest)).toBe(1);
  });

  it('answers 502 UNAVAILABLE naming the upstream when it cannot be reached, and caches nothing', async () => {
    const proxy = new PullThroughCache({ remoteUrl: 'http://127.0.0.1:9' });
    const registry = createRegistry({ storage: new FilesystemDriver(join(dir.path, `cache-${n++}`)), proxy });
    const { digest } = blobs.small!;
    for (const [method, headers] of [
      ['GET', {}],
      ['GET', { Range: 'bytes=0-9' }],
      ['HEAD', {}],
    ] as const) {
      const res = await registry.fetch(
        new Request(`http://cache.test/v2/lib/data/blobs/${digest}`, { method, headers }),
      );
      expect({ method, headers, status: res.status }).toEqual({ method, headers, status: 502 });
      if (method === 'GET') {
        const body = (await res.json()) as { errors: { code: string; message: string }[] };
        expect(body.errors[0]!.code).toBe('UNAVAILABLE');
        expect(body.errors[0]!.message).toContain('127.0.0.1:9');
      }
    }
    expect(await registry.store.statBlob(digest as never)).toBeUndefined();
  });

  it('a client going away mid-stream never leaves a partial blob visible; the blob is cached whole', async () => {
    const { registry, calls } = makeCache();
    const server = await serve({ port: 0, registry });
    const { bytes, digest } = blobs.dropped!;
    try {
      const abort = new AbortController();
      const res = await fetch(`${server.url}/v2/lib/data/blobs/${digest}`, { signal: abort.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let got = 0;
      while (got < 1024 * 1024) {
        const { done, value } = await reader.read();
        if (done) throw new Error('blob ended early');
        got += value.byteLength;
      }
      expect(await cached(registry, 'lib/data', digest)).toBeUndefined();
      abort.abort();
      await reader.cancel().catch(() => {});
      expect((await waitCached(registry, 'lib/data', digest)).equals(bytes)).toBe(true);
      expect(await registry.store.listUploads('lib/data')).toEqual([]);
      const again = await fetch(`${server.url}/v2/lib/data/blobs/${digest}`);
      expect(sha256(await readAll(again.body))).toBe(digest);
      expect(wholeGets(calls, digest)).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe.runIf(peersAvailable('docker-registry'))('pull-through cache: bad or broken upstream content', () => {
  let dir: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    dir = await tempDir('lade-proxy-faults-');
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  it('content that does not match its digest reaches no client whole and is never cached', async () => {
    const upstream = await startRegistry({ auth: CREDS, dataDir: join(dir.path, 'upstream-corrupt') });
    try {
      const bytes = randomBytes(3 * 1024 * 1024);
      const digest = await pushUpstream(upstream, 'lib/bad', bytes);
      const hex = digest.slice('sha256:'.length);
      // corrupt the upstream's stored copy on disk (same size): distribution serves it without checking
      const data = join(upstream.dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      const corrupt = Buffer.from(bytes);
      corrupt[corrupt.byteLength - 1]! ^= 0xff;
      await writeFile(data, corrupt);
      const proxy = new PullThroughCache({ remoteUrl: upstream.url, username: 'up', password: 'secret' });
      const registry = createRegistry({ storage: new FilesystemDriver(join(dir.path, 'cache-corrupt')), proxy });
      const server = await serve({ port: 0, registry });
      try {
        const res = await fetch(`${server.url}/v2/lib/bad/blobs/${digest}`);
        expect(res.status).toBe(200);
        await expect(readAll(res.body)).rejects.toThrow();
        // the failure has settled: nothing visible, no upload left behind
        for (let i = 0; i < 100 && (await registry.store.listUploads('lib/bad')).length > 0; i++)
          await new Promise((r) => setTimeout(r, 20));
        expect(await cached(registry, 'lib/bad', digest)).toBeUndefined();
        expect(await registry.store.statBlob(digest as never)).toBeUndefined();
        expect(await registry.store.listUploads('lib/bad')).toEqual([]);
      } finally {
        await server.close();
      }
    } finally {
      await upstream.stop();
    }
  });

  it('an upstream dying mid-stream fails the client and leaves nothing visible', async () => {
    const upstream = await startRegistry({ auth: CREDS });
    let stopped = false;
    try {
      const bytes = randomBytes(32 * 1024 * 1024);
      const digest = await pushUpstream(upstream, 'lib/cut', bytes);
      const proxy = new PullThroughCache({ remoteUrl: upstream.url, username: 'up', password: 'secret' });
      const registry = createRegistry({ storage: new FilesystemDriver(join(dir.path, 'cache-cut')), proxy });
      const res = await registry.fetch(new Request(`http://cache.test/v2/lib/cut/blobs/${digest}`));
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(first.done).toBe(false);
      // the fetch goes at the client's pace: it cannot have finished while the client has read one chunk
      await upstream.stop();
      stopped = true;
      const drain = async () => {
        for (;;) if ((await reader.read()).done) return;
      };
      await expect(drain()).rejects.toThrow();
      for (let i = 0; i < 100 && (await registry.store.listUploads('lib/cut')).length > 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      expect(await cached(registry, 'lib/cut', digest)).toBeUndefined();
      expect(await registry.store.statBlob(digest as never)).toBeUndefined();
      expect(await registry.store.listUploads('lib/cut')).toEqual([]);
      expect(await readdir(join(dir.path, 'cache-cut'), { recursive: true })).not.toContainEqual(
        expect.stringMatching(/blobs\/sha256\/.+\/data$/),
      );
    } finally {
      if (!stopped) await upstream.stop();
    }
  });
});
