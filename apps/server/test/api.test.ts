import { randomBytes } from 'node:crypto';
import { tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessLogEntry,
  createRegistry,
  FilesystemDriver,
  layout,
  MemoryDriver,
  type Registry,
  type StorageDriver,
} from '../src/index.js';
import { call, pushBlob, pushImage, sha256 } from './helpers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

async function blobPaths(driver: StorageDriver): Promise<string[]> {
  const out: string[] = [];
  for (const alg of await driver.list(layout.blobsRoot)) {
    for (const p of await driver.list(`${layout.blobsRoot}/${alg}`)) {
      for (const h of await driver.list(`${layout.blobsRoot}/${alg}/${p}`)) out.push(`${alg}:${h}`);
    }
  }
  return out.sort();
}

const drivers: [string, () => Promise<{ driver: StorageDriver; cleanup: () => Promise<void> }>][] = [
  ['memory', async () => ({ driver: new MemoryDriver(), cleanup: async () => {} })],
  [
    'filesystem',
    async () => {
      const dir = await tempDir('lade-server-api-');
      return { driver: new FilesystemDriver(dir.path), cleanup: dir.cleanup };
    },
  ],
];

describe.each(drivers)('registry API on %s storage', (_name, makeDriver) => {
  let registry: Registry;
  let driver: StorageDriver;
  let cleanup: () => Promise<void>;
  const log: AccessLogEntry[] = [];

  beforeAll(async () => {
    ({ driver, cleanup } = await makeDriver());
    registry = createRegistry({ storage: driver, log: (e) => log.push(e) });
  });
  afterAll(async () => cleanup());

  it('answers /v2/ with the API version header and an empty JSON body', async () => {
    const r = await call(registry, 'GET', '/v2/');
    expect(r.status).toBe(200);
    expect(r.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(r.json()).toEqual({});
  });

  it('refuses invalid repository names, including traversal attempts, with NAME_INVALID and writes nothing', async () => {
    const before = await blobPaths(driver);
    for (const name of ['UPPER/case', 'a/..%2fb', 'a/%2e%2e%2fb', '_uploads/x', 'a//b', 'a/.hidden', '-a']) {
      const r = await call(registry, 'POST', `/v2/${name}/blobs/uploads/`, {
        query: { digest: sha256('x') },
        body: 'x',
      });
      expect([400, 404], name).toContain(r.status);
      if (r.status === 400) expect(r.json().errors[0].code).toBe('NAME_INVALID');
    }
    // WHATWG URLs resolve dot segments (also %2e%2e) before the handler sees them: they can only land inside /v2/.
    const dotted = await registry.fetch(
      new Request('http://registry.test/v2/a/%2e%2e/%2e%2e/%2e%2e/etc/blobs/uploads/', { method: 'POST' }),
    );
    expect(dotted.status).toBe(404);
    expect(await blobPaths(driver)).toEqual(before);
    expect(await driver.list(layout.reposRoot)).not.toContain('etc');
  });

  it('refuses malformed digests with DIGEST_INVALID', async () => {
    for (const d of ['sha256:abc', 'md5:0123', 'sha256:..%2f..', `sha256:${'A'.repeat(64)}`]) {
      const r = await call(registry, 'GET', `/v2/repo/blobs/${d}`);
      expect(r.status, d).toBe(400);
      expect(r.json().errors[0].code).toBe('DIGEST_INVALID');
    }
    const bad = await call(registry, 'POST', '/v2/repo/blobs/uploads/', {
      query: { digest: 'sha256:nope' },
      body: 'x',
    });
    expect(bad.json().errors[0].code).toBe('DIGEST_INVALID');
  });

  it('refuses invalid tags with TAG_INVALID', async () => {
    const r = await call(registry, 'PUT', '/v2/repo/manifests/-bad', {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: '{}',
    });
    expect(r.status).toBe(400);
    expect(r.json().errors[0].code).toBe('TAG_INVALID');
  });

  it('refuses a monolithic upload whose content does not match its digest and leaves nothing visible', async () => {
    const before = await blobPaths(driver);
    const wrong = sha256('something else');
    const r = await call(registry, 'POST', '/v2/bad/upload/blobs/uploads/', {
      query: { digest: wrong },
      body: randomBytes(100),
    });
    expect(r.status).toBe(400);
    expect(r.json().errors[0].code).toBe('DIGEST_INVALID');
    expect((await call(registry, 'HEAD', `/v2/bad/upload/blobs/${wrong}`)).status).toBe(404);
    expect(await blobPaths(driver)).toEqual(before);
    expect(await driver.list(layout.uploadsRoot('bad/upload'))).toEqual([]);
  });

  it('refuses a chunked upload finished with the wrong digest, discards the session and exposes nothing', async () => {
    const post = await call(registry, 'POST', '/v2/chunky/blobs/uploads/');
    const loc = post.headers.get('location')!;
    await call(registry, 'PATCH', loc, { body: 'hello ', headers: { 'Content-Range': '0-5' } });
    const wrong = sha256('hello world?');
    const put = await call(registry, 'PUT', loc, { query: { digest: wrong }, body: 'world' });
    expect(put.json().errors[0].code).toBe('DIGEST_INVALID');
    expect((await call(registry, 'GET', loc)).status).toBe(404);
    expect((await call(registry, 'HEAD', `/v2/chunky/blobs/${wrong}`)).status).toBe(404);
  });

  it('answers unknown upload sessions with BLOB_UPLOAD_UNKNOWN and bogus ids without touching storage', async () => {
    const unknown = '/v2/repo/blobs/uploads/00000000-0000-4000-8000-000000000000';
    for (const m of ['GET', 'PATCH', 'DELETE'])
      expect((await call(registry, m, unknown, m === 'PATCH' ? { body: 'x' } : {})).json().errors[0].code).toBe(
        'BLOB_UPLOAD_UNKNOWN',
      );
    const put = await call(registry, 'PUT', unknown, { query: { digest: sha256('x') }, body: 'x' });
    expect(put.json().errors[0].code).toBe('BLOB_UPLOAD_UNKNOWN');
    const traversal = await call(registry, 'GET', '/v2/repo/blobs/uploads/..%2f..%2fdata');
    expect(traversal.status).toBe(404);
  });

  it('cancels an upload with DELETE (204) and forgets it', async () => {
    const post = await call(registry, 'POST', '/v2/cancel/blobs/uploads/');
    const loc = post.headers.get('location')!;
    await call(registry, 'PATCH', loc, { body: 'partial' });
    expect((await call(registry, 'DELETE', loc)).status).toBe(204);
    expect((await call(registry, 'GET', loc)).status).toBe(404);
  });

  it('reports the upload offset with GET (204, Range, Location) after each chunk, and 416 with the offset for a gap', async () => {
    const post = await call(registry, 'POST', '/v2/status/blobs/uploads/');
    expect(post.headers.get('range')).toBe('0-0');
    const loc = post.headers.get('location')!;
    await call(registry, 'PATCH', loc, { body: 'abc', headers: { 'Content-Range': '0-2' } });
    const status = await call(registry, 'GET', loc);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-2');
    expect(status.headers.get('location')).toBe(loc);
    const gap = await call(registry, 'PATCH', loc, { body: 'xyz', headers: { 'Content-Range': '5-7' } });
    expect(gap.status).toBe(416);
    expect(gap.headers.get('range')).toBe('0-2');
    const put = await call(registry, 'PUT', loc, {
      query: { digest: sha256('abcdef') },
      body: 'def',
      headers: { 'Content-Range': '3-5' },
    });
    expect(put.status).toBe(201);
  });

  it('serves byte ranges with 206 and Content-Range, and 416 outside the blob', async () => {
    const content = randomBytes(1000);
    const digest = await pushBlob(registry, 'ranges', content);
    const head = await call(registry, 'HEAD', `/v2/ranges/blobs/${digest}`);
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    const res = await registry.fetch(
      new Request(`http://registry.test/v2/ranges/blobs/${digest}`, { headers: { Range: 'bytes=10-19' } }),
    );
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 10-19/1000');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(content.subarray(10, 20));
    const suffix = await registry.fetch(
      new Request(`http://registry.test/v2/ranges/blobs/${digest}`, { headers: { Range: 'bytes=-5' } }),
    );
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(content.subarray(995));
    const open = await registry.fetch(
      new Request(`http://registry.test/v2/ranges/blobs/${digest}`, { headers: { Range: 'bytes=990-' } }),
    );
    expect((await open.arrayBuffer()).byteLength).toBe(10);
    const outside = await call(registry, 'GET', `/v2/ranges/blobs/${digest}`, {
      headers: { Range: 'bytes=1000-1001' },
    });
    expect(outside.status).toBe(416);
    expect(outside.headers.get('content-range')).toBe('bytes */1000');
  });

  it('keeps blobs per repository: a digest pushed to one repository is unknown in another until mounted', async () => {
    const digest = await pushBlob(registry, 'owner/a', randomBytes(64));
    expect((await call(registry, 'GET', `/v2/owner/b/blobs/${digest}`)).status).toBe(404);
    const mount = await call(registry, 'POST', '/v2/owner/b/blobs/uploads/', {
      query: { mount: digest, from: 'owner/a' },
    });
    expect(mount.status).toBe(201);
    expect(mount.headers.get('docker-content-digest')).toBe(digest);
    expect((await call(registry, 'GET', `/v2/owner/b/blobs/${digest}`)).status).toBe(200);
    const missing = await call(registry, 'POST', '/v2/owner/b/blobs/uploads/', {
      query: { mount: sha256('nothing'), from: 'owner/a' },
    });
    expect(missing.status).toBe(202);
  });

  it('refuses a manifest whose blobs are missing with MANIFEST_BLOB_UNKNOWN and stores nothing', async () => {
    const config = await pushBlob(registry, 'refs', '{"os":"linux"}');
    const missing = sha256('not pushed');
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 14 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: missing, size: 10 }],
    });
    const r = await call(registry, 'PUT', '/v2/refs/manifests/v1', {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: manifest,
    });
    expect(r.status).toBe(400);
    expect(r.json().errors[0]).toMatchObject({ code: 'MANIFEST_BLOB_UNKNOWN', detail: { digest: missing } });
    expect((await call(registry, 'GET', `/v2/refs/manifests/${sha256(manifest)}`)).status).toBe(404);
    expect((await call(registry, 'GET', '/v2/refs/tags/list')).json().tags).toEqual([]);
    expect(await blobPaths(driver)).not.toContain(sha256(manifest));
  });

  it('accepts a manifest whose foreign layers (with urls) are not stored', async () => {
    const config = await pushBlob(registry, 'foreign', '{"os":"windows"}');
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: config, size: 16 },
      layers: [
        {
          mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
          digest: sha256('foreign'),
          size: 7,
          urls: ['https://example.com/x'],
        },
      ],
    });
    const r = await call(registry, 'PUT', '/v2/foreign/manifests/v1', {
      headers: { 'Content-Type': DOCKER_MANIFEST },
      body: manifest,
    });
    expect(r.status).toBe(201);
  });

  it('refuses an index whose child manifests are missing with MANIFEST_BLOB_UNKNOWN', async () => {
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: sha256('child'), size: 5 }],
    });
    const r = await call(registry, 'PUT', '/v2/idx/manifests/v1', {
      headers: { 'Content-Type': OCI_INDEX },
      body: index,
    });
    expect(r.json().errors[0].code).toBe('MANIFEST_BLOB_UNKNOWN');
  });

  it('stores Docker schema 2 manifests and manifest lists and serves them with their media types', async () => {
    const image = await pushImage(registry, 'docker/types', 'oci');
    const dockerManifest = image.manifest.replace(OCI_MANIFEST, DOCKER_MANIFEST);
    const put = await call(registry, 'PUT', '/v2/docker/types/manifests/v2', {
      headers: { 'Content-Type': DOCKER_MANIFEST },
      body: dockerManifest,
    });
    expect(put.status).toBe(201);
    const list = JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [
        {
          mediaType: DOCKER_MANIFEST,
          digest: sha256(dockerManifest),
          size: Buffer.byteLength(dockerManifest),
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    });
    expect(
      (
        await call(registry, 'PUT', '/v2/docker/types/manifests/list', {
          headers: { 'Content-Type': DOCKER_LIST },
          body: list,
        })
      ).status,
    ).toBe(201);
    expect((await call(registry, 'GET', '/v2/docker/types/manifests/v2')).headers.get('content-type')).toBe(
      DOCKER_MANIFEST,
    );
    const got = await call(registry, 'GET', '/v2/docker/types/manifests/list');
    expect(got.headers.get('content-type')).toBe(DOCKER_LIST);
    expect(got.text).toBe(list);
  });

  it('refuses invalid manifests with MANIFEST_INVALID: bad JSON, schema 1, Content-Type mismatch, bad descriptors', async () => {
    const image = await pushImage(registry, 'invalid', 'ok');
    const cases: [string, string][] = [
      ['{not json', OCI_MANIFEST],
      [
        '{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}',
        'application/vnd.docker.distribution.manifest.v1+json',
      ],
      [image.manifest, OCI_INDEX],
      [
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"sha256:zz","size":1},"layers":[]}',
        OCI_MANIFEST,
      ],
      ['{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"}', OCI_INDEX],
    ];
    for (const [body, type] of cases) {
      const r = await call(registry, 'PUT', '/v2/invalid/manifests/bad', { headers: { 'Content-Type': type }, body });
      expect(r.status, body).toBe(400);
      expect(r.json().errors[0].code).toBe('MANIFEST_INVALID');
    }
    expect((await call(registry, 'GET', '/v2/invalid/manifests/bad')).status).toBe(404);
  });

  it('refuses a PUT by digest whose content has another digest with DIGEST_INVALID', async () => {
    const image = await pushImage(registry, 'bydigest', 'x');
    const r = await call(registry, 'PUT', `/v2/bydigest/manifests/${sha256('other')}`, {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: image.manifest,
    });
    expect(r.json().errors[0].code).toBe('DIGEST_INVALID');
  });

  it('refuses manifests over 4 MiB with 413 whether or not Content-Length is declared, without storing them', async () => {
    const huge = new Uint8Array(4 * 1024 * 1024 + 1).fill(32);
    const declared = await call(registry, 'PUT', '/v2/big/manifests/x', {
      headers: { 'Content-Type': OCI_MANIFEST },
      body: huge,
    });
    expect(declared.status).toBe(413);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent >= 64 * 1024 * 1024) return c.close();
        sent += 1024 * 1024;
        c.enqueue(new Uint8Array(1024 * 1024).fill(32));
      },
    });
    const res = await registry.fetch(
      new Request('http://registry.test/v2/big/manifests/x', {
        method: 'PUT',
        body: stream,
        headers: { 'Content-Type': OCI_MANIFEST },
        duplex: 'half',
      } as RequestInit),
    );
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(16 * 1024 * 1024);
    expect((await call(registry, 'GET', '/v2/big/manifests/x')).status).toBe(404);
  });

  it('pages the catalog with n and last in lexical order and a Link header', async () => {
    const all = (await call(registry, 'GET', '/v2/_catalog')).json().repositories as string[];
    expect(all).toEqual([...all].sort());
    expect(all).toContain('owner/a');
    const first = await call(registry, 'GET', '/v2/_catalog', { query: { n: '2' } });
    expect(first.json().repositories).toEqual(all.slice(0, 2));
    expect(first.headers.get('link')).toBe(`</v2/_catalog?n=2&last=${encodeURIComponent(all[1]!)}>; rel="next"`);
    const next = await call(registry, 'GET', '/v2/_catalog', { query: { n: '2', last: all[1]! } });
    expect(next.json().repositories).toEqual(all.slice(2, 4));
    expect((await call(registry, 'GET', '/v2/_catalog', { query: { n: '-1' } })).json().errors[0].code).toBe(
      'PAGINATION_NUMBER_INVALID',
    );
  });

  it('answers tags/list of an unknown repository with NAME_UNKNOWN', async () => {
    const r = await call(registry, 'GET', '/v2/never/pushed/tags/list');
    expect(r.status).toBe(404);
    expect(r.json().errors[0].code).toBe('NAME_UNKNOWN');
  });

  it('re-tagging moves the tag to the new manifest', async () => {
    const one = await pushImage(registry, 'retag', 'latest');
    const two = await pushImage(registry, 'retag', 'latest');
    expect((await call(registry, 'GET', '/v2/retag/manifests/latest')).headers.get('docker-content-digest')).toBe(
      two.digest,
    );
    expect((await call(registry, 'GET', `/v2/retag/manifests/${one.digest}`)).status).toBe(200);
  });

  it('answers unknown routes and methods with JSON errors', async () => {
    expect((await call(registry, 'GET', '/v3/')).status).toBe(404);
    const r = await call(registry, 'POST', '/v2/repo/tags/list');
    expect(r.status).toBe(405);
    expect(r.json().errors[0].code).toBe('UNSUPPORTED');
  });

  it('serves /healthz and Prometheus /metrics, and logs each request as a structured entry', async () => {
    expect((await call(registry, 'GET', '/healthz')).json()).toMatchObject({ status: 'ok' });
    const m = await call(registry, 'GET', '/metrics');
    expect(m.headers.get('content-type')).toContain('text/plain');
    expect(m.text).toMatch(/lade_registry_http_requests_total\{method="GET",route="manifest",status="200"\} \d+/);
    expect(m.text).toContain('lade_registry_http_request_duration_seconds_bucket');
    const entry = log.find((e) => e.route === 'blob' && e.status === 206);
    expect(entry).toMatchObject({ method: 'GET', repository: 'ranges' });
    expect(typeof entry?.durationMs).toBe('number');
  });

  it('sends no CORS headers by default', async () => {
    const r = await call(registry, 'GET', '/v2/', { headers: { Origin: 'https://evil.example' } });
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('registry modes', () => {
  it('read-only mode refuses every write with UNSUPPORTED and still serves pulls', async () => {
    const storage = new MemoryDriver();
    const writable = createRegistry({ storage });
    const image = await pushImage(writable, 'ro', 'v1');
    const ro = createRegistry({ storage, readOnly: true });
    expect((await call(ro, 'GET', '/v2/ro/manifests/v1')).status).toBe(200);
    for (const [m, p] of [
      ['POST', '/v2/ro/blobs/uploads/'],
      ['PUT', '/v2/ro/manifests/v2'],
      ['DELETE', `/v2/ro/manifests/${image.digest}`],
      ['DELETE', `/v2/ro/blobs/${image.layerDigest}`],
    ] as const) {
      const r = await call(
        ro,
        m,
        p,
        m === 'PUT' ? { body: image.manifest, headers: { 'Content-Type': OCI_MANIFEST } } : {},
      );
      expect(r.status, `${m} ${p}`).toBe(405);
      expect(r.json().errors[0].code).toBe('UNSUPPORTED');
    }
  });

  it('with deletes disabled, tag and blob deletes answer UNSUPPORTED and remove nothing', async () => {
    const registry = createRegistry({ deleteEnabled: false });
    const image = await pushImage(registry, 'nodelete', 'v1');
    const r = await call(registry, 'DELETE', '/v2/nodelete/manifests/v1');
    expect(r.json().errors[0].code).toBe('UNSUPPORTED');
    expect((await call(registry, 'DELETE', `/v2/nodelete/blobs/${image.layerDigest}`)).status).toBe(405);
    expect((await call(registry, 'GET', '/v2/nodelete/manifests/v1')).status).toBe(200);
  });

  it('refuses blobs over maxBlobSize with 413 SIZE_INVALID and keeps nothing', async () => {
    const storage = new MemoryDriver();
    const registry = createRegistry({ storage, maxBlobSize: 1000 });
    const big = randomBytes(5000);
    const r = await call(registry, 'POST', '/v2/limits/blobs/uploads/', { query: { digest: sha256(big) }, body: big });
    expect(r.status).toBe(413);
    expect(r.json().errors[0].code).toBe('SIZE_INVALID');
    expect((await call(registry, 'HEAD', `/v2/limits/blobs/${sha256(big)}`)).status).toBe(404);
    expect(await blobPaths(storage)).toEqual([]);
  });

  it('sends CORS headers only for configured origins', async () => {
    const registry = createRegistry({ cors: { origins: ['https://ui.example'] } });
    const ok = await call(registry, 'GET', '/v2/', { headers: { Origin: 'https://ui.example' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://ui.example');
    const pre = await call(registry, 'OPTIONS', '/v2/x/blobs/uploads/', { headers: { Origin: 'https://ui.example' } });
    expect(pre.status).toBe(204);
    const other = await call(registry, 'GET', '/v2/', { headers: { Origin: 'https://other.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('continues an upload started by another replica sharing the storage (state lives in storage)', async () => {
    const storage = new MemoryDriver();
    const a = createRegistry({ storage });
    const b = createRegistry({ storage });
    const post = await call(a, 'POST', '/v2/replicas/blobs/uploads/');
    const loc = post.headers.get('location')!;
    await call(a, 'PATCH', loc, { body: 'first half, ', headers: { 'Content-Range': '0-11' } });
    expect((await call(b, 'GET', loc)).headers.get('range')).toBe('0-11');
    await call(b, 'PATCH', loc, { body: 'second half', headers: { 'Content-Range': '12-22' } });
    const put = await call(a, 'PUT', loc, { query: { digest: sha256('first half, second half') } });
    expect(put.status).toBe(201);
    expect((await call(b, 'GET', `/v2/replicas/blobs/${sha256('first half, second half')}`)).text).toBe(
      'first half, second half',
    );
  });
});
