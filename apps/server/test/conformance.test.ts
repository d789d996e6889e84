// The OCI distribution-spec conformance workflows (Pull, Push, Content Discovery, Content Management), ported case by
// case from opencontainers/distribution-spec conformance/0{1,2,3,4}_*.go, run on every storage driver.
import { randomBytes } from 'node:crypto';
import { tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, FilesystemDriver, MemoryDriver, type Registry, type StorageDriver } from '../src/index.js';
import { call, sha256 } from './helpers.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ERROR_CODES = [
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
];
const dummyDigest = `sha256:${'0'.repeat(64)}`;
const emptyJSON = '{}';
const emptyJSONDigest = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';
const annotationKey = 'org.opencontainers.conformance.test';

function config(seed: string) {
  const content = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    author: seed,
    rootfs: { type: 'layers', diff_ids: [] },
  });
  return { content, digest: sha256(content), length: String(Buffer.byteLength(content)) };
}
const layer = randomBytes(2048);
const layerDigest = sha256(layer);
function imageManifest(
  cfg: { digest: string; length: string },
  extra: Record<string, unknown> = {},
  layers = [{ digest: layerDigest, size: layer.byteLength }],
) {
  const content = JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cfg.digest, size: Number(cfg.length) },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
      ...extra,
    },
    null,
    '\t',
  );
  return { content, digest: sha256(content), length: String(Buffer.byteLength(content)) };
}

const drivers: [string, () => Promise<{ driver: StorageDriver; cleanup: () => Promise<void> }>][] = [
  ['memory', async () => ({ driver: new MemoryDriver(), cleanup: async () => {} })],
  [
    'filesystem',
    async () => {
      const dir = await tempDir('lade-server-conf-');
      return { driver: new FilesystemDriver(dir.path), cleanup: dir.cleanup };
    },
  ],
];

describe.each(drivers)('OCI conformance on %s storage', (_name, makeDriver) => {
  let registry: Registry;
  let cleanup: () => Promise<void>;
  const name = 'conformance/test';
  const crossmount = 'conformance/other';
  const cfgs = [config('c0'), config('c1'), config('c2'), config('c3'), config('c4')];

  beforeAll(async () => {
    const d = await makeDriver();
    cleanup = d.cleanup;
    registry = createRegistry({ storage: d.driver });
  });
  afterAll(async () => cleanup());

  const upload = async (repo: string, content: Uint8Array | string, digest = sha256(content)) => {
    const post = await call(registry, 'POST', `/v2/${repo}/blobs/uploads/`);
    const put = await call(registry, 'PUT', post.headers.get('location')!, {
      query: { digest },
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(Buffer.byteLength(content as string)),
      },
      body: content,
    });
    expect(put.status).toBe(201);
  };

  describe('Pull', () => {
    const manifest = imageManifest(cfgs[0]!);
    it('Setup: populates blobs, a layer and a tagged manifest', async () => {
      await upload(name, cfgs[0]!.content);
      await upload(name, layer);
      const put = await call(registry, 'PUT', `/v2/${name}/manifests/tagtest0`, {
        headers: { 'Content-Type': OCI_MANIFEST },
        body: manifest.content,
      });
      expect(put.status).toBe(201);
    });
    it('HEAD request to nonexistent blob should result in 404 response', async () => {
      expect((await call(registry, 'HEAD', `/v2/${name}/blobs/${dummyDigest}`)).status).toBe(404);
    });
    it('HEAD request to existing blob should yield 200 with its digest', async () => {
      const r = await call(registry, 'HEAD', `/v2/${name}/blobs/${cfgs[0]!.digest}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(cfgs[0]!.digest);
      expect(r.headers.get('content-length')).toBe(cfgs[0]!.length);
    });
    it('GET nonexistent blob should result in 404 response', async () => {
      const r = await call(registry, 'GET', `/v2/${name}/blobs/${dummyDigest}`);
      expect(r.status).toBe(404);
      expect(r.json().errors[0].code).toBe('BLOB_UNKNOWN');
    });
    it('GET request to existing blob URL should yield 200 with the exact bytes', async () => {
      const r = await call(registry, 'GET', `/v2/${name}/blobs/${cfgs[0]!.digest}`);
      expect(r.status).toBe(200);
      expect(sha256(r.text)).toBe(cfgs[0]!.digest);
    });
    it('HEAD request to nonexistent manifest should return 404', async () => {
      expect((await call(registry, 'HEAD', `/v2/${name}/manifests/.INVALID_MANIFEST_NAME`)).status).toBe(400);
      expect((await call(registry, 'HEAD', `/v2/${name}/manifests/nonexistent`)).status).toBe(404);
    });
    it('HEAD request to manifest path (digest) should yield 200 response', async () => {
      const r = await call(registry, 'HEAD', `/v2/${name}/manifests/${manifest.digest}`, {
        headers: { Accept: OCI_MANIFEST },
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(manifest.digest);
      expect(r.headers.get('content-type')).toBe(OCI_MANIFEST);
    });
    it('HEAD request to manifest path (tag) should yield 200 response', async () => {
      const r = await call(registry, 'HEAD', `/v2/${name}/manifests/tagtest0`, { headers: { Accept: OCI_MANIFEST } });
      expect(r.status).toBe(200);
      expect(r.headers.get('docker-content-digest')).toBe(manifest.digest);
    });
    it('GET nonexistent manifest should return 404', async () => {
      const r = await call(registry, 'GET', `/v2/${name}/manifests/nonexistent`);
      expect(r.status).toBe(404);
      expect(r.json().errors[0].code).toBe('MANIFEST_UNKNOWN');
    });
    it('GET request to manifest path (digest) and (tag) should yield 200 with the exact bytes', async () => {
      for (const ref of [manifest.digest, 'tagtest0']) {
        const r = await call(registry, 'GET', `/v2/${name}/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
        expect(r.status).toBe(200);
        expect(r.text).toBe(manifest.content);
      }
    });
    it('400 response body should contain OCI-conforming JSON message', async () => {
      const r = await call(registry, 'PUT', `/v2/${name}/manifests/sha256:totallywrong`, {
        headers: { 'Content-Type': OCI_MANIFEST },
        body: '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": "invalid"}',
      });
      expect(r.status).toBe(400);
      expect(ERROR_CODES).toContain(r.json().errors[0].code);
    });
    it('Teardown: deletes the manifest and blobs', async () => {
      expect((await call(registry, 'DELETE', `/v2/${name}/manifests/${manifest.digest}`)).status).toBe(202);
      expect((await call(registry, 'DELETE', `/v2/${name}/blobs/${cfgs[0]!.digest}`)).status).toBe(202);
      expect((await call(registry, 'DELETE', `/v2/${name}/blobs/${layerDigest}`)).status).toBe(202);
    });
  });

  describe('Push', () => {
    const blobA = randomBytes(512);
    const blobADigest = sha256(blobA);
    const blobB = randomBytes(1000);
    const blobBDigest = sha256(blobB);
    const chunk1 = blobB.subarray(0, 600);
    const chunk2 = blobB.subarray(600);
    const chunk1Range = `0-${chunk1.length - 1}`;
    const chunk2Range = `${chunk1.length}-${blobB.length - 1}`;
    const refBlobA = randomBytes(64);
    const manifest1 = imageManifest(cfgs[1]!);
    let last: Awaited<ReturnType<typeof call>>;
    let prev: Awaited<ReturnType<typeof call>>;

    it('Setup: uploads the empty JSON blob and a reference blob', async () => {
      expect(sha256(emptyJSON)).toBe(emptyJSONDigest);
      await upload(name, emptyJSON);
      await upload(name, refBlobA);
    });
    it('Blob Upload Streamed: PATCH request with blob in body should yield 202 response', async () => {
      const post = await call(registry, 'POST', `/v2/${name}/blobs/uploads/`);
      expect(post.headers.get('location')).toBeTruthy();
      last = await call(registry, 'PATCH', post.headers.get('location')!, {
        headers: { 'Content-Type': 'application/octet-stream' },
        body: blobA,
      });
      expect(last.status).toBe(202);
    });
    it('Blob Upload Streamed: PUT request to session URL with digest should yield 201 response', async () => {
      const r = await call(registry, 'PUT', last.headers.get('location')!, {
        query: { digest: blobADigest },
        headers: { 'Content-Length': '0' },
      });
      expect(r.status).toBe(201);
      expect(r.headers.get('location')).toBeTruthy();
    });
    it('Monolithic: GET nonexistent blob should result in 404 response', async () => {
      expect((await call(registry, 'GET', `/v2/${name}/blobs/${dummyDigest}`)).status).toBe(404);
    });
    it('Monolithic: POST request with digest and blob should yield a 201, and the blob is readable', async () => {
      const r = await call(registry, 'POST', `/v2/${name}/blobs/uploads/`, {
        query: { digest: cfgs[1]!.digest },
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': cfgs[1]!.length },
        body: cfgs[1]!.content,
      });
      expect(r.status).toBe(201);
      expect(r.headers.get('location')).toBe(`/v2/${name}/blobs/${cfgs[1]!.digest}`);
      expect((await call(registry, 'GET', `/v2/${name}/blobs/${cfgs[1]!.digest}`)).status).toBe(200);
    });
    it('Monolithic: POST request should yield a session ID; PUT upload of a blob should yield a 201', async () => {
      const post = await call(registry, 'POST', `/v2/${name}/blobs/uploads/`);
      expect(post.status).toBe(202);
      expect(post.headers.get('docker-upload-uuid')).toBeTruthy();
      const put = await call(registry, 'PUT', post.headers.get('location')!, {
        query: { digest: cfgs[1]!.digest },
        body: cfgs[1]!.content,
      });
      expect(put.status).toBe(201);
      expect((await call(registry, 'GET', `/v2/${name}/blobs/${cfgs[1]!.digest}`)).status).toBe(200);
    });
    it('Monolithic: PUT upload of a layer blob should yield a 201 Response', async () => {
      await upload(name, layer);
      expect((await call(registry, 'GET', `/v2/${name}/blobs/${layerDigest}`)).status).toBe(200);
    });
    it('Chunked: Out-of-order blob upload should return 416', async () => {
      const post = await call(registry, 'POST', `/v2/${name}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
      const r = await call(registry, 'PATCH', post.headers.get('location')!, {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': chunk2Range,
          'Content-Length': String(chunk2.length),
        },
        body: chunk2,
      });
      expect(r.status).toBe(416);
    });
    it('Chunked: PATCH request with first chunk should return 202 and its Range', async () => {
      prev = await call(registry, 'POST', `/v2/${name}/blobs/uploads/`, { headers: { 'Content-Length': '0' } });
      last = await call(registry, 'PATCH', prev.headers.get('location')!, {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': chunk1Range,
          'Content-Length': String(chunk1.length),
        },
        body: chunk1,
      });
      expect(last.status).toBe(202);
      expect(last.headers.get('range')).toBe(chunk1Range);
    });
    it('Chunked: Retry previous blob chunk should return 416', async () => {
      const r = await call(registry, 'PATCH', prev.headers.get('location')!, {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': chunk1Range,
          'Content-Length': String(chunk1.length),
        },
        body: chunk1,
      });
      expect(r.status).toBe(416);
    });
    it('Chunked: Get on stale blob upload should return 204 with a range and location', async () => {
      last = await call(registry, 'GET', prev.headers.get('location')!);
      expect(last.status).toBe(204);
      expect(last.headers.get('location')).toBeTruthy();
      expect(last.headers.get('range')).toBe(chunk1Range);
    });
    it('Chunked: PATCH request with second chunk should return 202', async () => {
      last = await call(registry, 'PATCH', last.headers.get('location')!, {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': chunk2Range,
          'Content-Length': String(chunk2.length),
        },
        body: chunk2,
      });
      expect(last.status).toBe(202);
      expect(last.headers.get('range')).toBe(`0-${blobB.length - 1}`);
      expect(last.headers.get('location')).toBeTruthy();
    });
    it('Chunked: PUT request with digest should return 201', async () => {
      const r = await call(registry, 'PUT', last.headers.get('location')!, {
        query: { digest: blobBDigest },
        headers: { 'Content-Length': '0' },
      });
      expect(r.status).toBe(201);
      expect(r.headers.get('location')).toBeTruthy();
      const get = await call(registry, 'GET', `/v2/${name}/blobs/${blobBDigest}`);
      expect(sha256(Buffer.from(get.text, 'latin1'))).toBeDefined();
    });
    it('Cross-mount: mounting without the from argument should yield a session id (202)', async () => {
      const r = await call(registry, 'POST', `/v2/${crossmount}/blobs/uploads/`, { query: { mount: dummyDigest } });
      expect(r.status).toBe(202);
      expect(r.headers.get('location')).toMatch(new RegExp(`^/v2/${crossmount}/blobs/uploads/`));
    });
    it("Cross-mount: POST request to mount another repository's blob should return 201 and the blob is readable there", async () => {
      last = await call(registry, 'POST', `/v2/${crossmount}/blobs/uploads/`, {
        query: { mount: blobADigest, from: name },
      });
      expect(last.status).toBe(201);
      expect(last.headers.get('location')).toBe(`/v2/${crossmount}/blobs/${blobADigest}`);
      expect((await call(registry, 'GET', last.headers.get('location')!)).status).toBe(200);
    });
    it('Cross-mount: without from (no automatic content discovery) should return a 202', async () => {
      const r = await call(registry, 'POST', `/v2/${crossmount}/blobs/uploads/`, { query: { mount: layerDigest } });
      expect(r.status).toBe(202);
    });
    it('Manifest Upload: GET nonexistent manifest should return 404', async () => {
      expect((await call(registry, 'GET', `/v2/${name}/manifests/nonexistent`)).status).toBe(404);
    });
    it('Manifest Upload: PUT should accept a manifest upload under four tags', async () => {
      for (let i = 0; i < 4; i++) {
        const r = await call(registry, 'PUT', `/v2/${name}/manifests/test${i}`, {
          headers: { 'Content-Type': OCI_MANIFEST },
          body: manifest1.content,
        });
        expect(r.status).toBe(201);
        expect(r.headers.get('location')).toBeTruthy();
        expect(r.headers.get('docker-content-digest')).toBe(manifest1.digest);
      }
    });
    it('Manifest Upload: Registry should accept a manifest upload with no layers', async () => {
      const m = imageManifest(cfgs[1]!, {}, []);
      const r = await call(registry, 'PUT', `/v2/${name}/manifests/emptylayer`, {
        headers: { 'Content-Type': OCI_MANIFEST },
        body: m.content,
      });
      expect(r.status).toBe(201);
    });
    it('Manifest Upload: GET request to manifest URL (digest) should yield 200 response', async () => {
      expect(
        (
          await call(registry, 'GET', `/v2/${name}/manifests/${manifest1.digest}`, {
            headers: { Accept: OCI_MANIFEST },
          })
        ).status,
      ).toBe(200);
    });
    it('Manifest Upload: accepts custom config mediaType (artifact type) and custom artifactType [v1.1]', async () => {
      const configType = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: 'application/vnd.nhl.peanut.butter.bagel',
          digest: sha256(refBlobA),
          size: refBlobA.length,
        },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: emptyJSONDigest, size: 2 }],
      });
      expect(
        (
          await call(registry, 'PUT', `/v2/${name}/manifests/${sha256(configType)}`, {
            headers: { 'Content-Type': OCI_MANIFEST },
            body: configType,
          })
        ).status,
      ).toBe(201);
      const artifact = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.nba.strawberry.jam.croissant',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyJSONDigest, size: 2 },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(refBlobA), size: refBlobA.length },
        ],
      });
      expect(
        (
          await call(registry, 'PUT', `/v2/${name}/manifests/${sha256(artifact)}`, {
            headers: { 'Content-Type': OCI_MANIFEST },
            body: artifact,
          })
        ).status,
      ).toBe(201);
    });
    it('Manifest Upload: accepts an image index and a nested image index', async () => {
      await upload(name, cfgs[0]!.content);
      const m0 = imageManifest(cfgs[0]!);
      expect(
        (
          await call(registry, 'PUT', `/v2/${name}/manifests/tagtest0`, {
            headers: { 'Content-Type': OCI_MANIFEST },
            body: m0.content,
          })
        ).status,
      ).toBe(201);
      const index = JSON.stringify(
        {
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          artifactType: 'application/vnd.food.stand',
          manifests: [{ mediaType: OCI_MANIFEST, size: Number(m0.length), digest: m0.digest }],
          annotations: { [annotationKey]: 'test index' },
        },
        null,
        '\t',
      );
      const r = await call(registry, 'PUT', `/v2/${name}/manifests/${sha256(index)}`, {
        headers: { 'Content-Type': OCI_INDEX },
        body: index,
      });
      expect(r.status).toBe(201);
      const nested = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_INDEX, size: Buffer.byteLength(index), digest: sha256(index) }],
      });
      expect(
        (
          await call(registry, 'PUT', `/v2/${name}/manifests/${sha256(nested)}`, {
            headers: { 'Content-Type': OCI_INDEX },
            body: nested,
          })
        ).status,
      ).toBe(201);
      const got = await call(registry, 'GET', `/v2/${name}/manifests/${sha256(nested)}`);
      expect(got.headers.get('content-type')).toBe(OCI_INDEX);
    });
    it('Manifest Upload: Dangling subject is accepted and answered with OCI-Subject', async () => {
      const missingSubject = imageManifest(cfgs[3]!, {}, []);
      const ref = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: 'application/vnd.nba.strawberry.jam.croissant',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyJSONDigest, size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyJSONDigest, size: 2 }],
        subject: { mediaType: OCI_MANIFEST, digest: missingSubject.digest, size: Number(missingSubject.length) },
      });
      const r = await call(registry, 'PUT', `/v2/${name}/manifests/${sha256(ref)}`, {
        headers: { 'Content-Type': OCI_MANIFEST },
        body: ref,
      });
      expect(r.status).toBe(201);
      expect(r.headers.get('oci-subject')).toMatch(/^[a-z0-9]+:[a-f0-9]+$/);
      expect(r.headers.get('oci-subject')).toBe(missingSubject.digest);
    });
    it('Teardown: deletes the manifest and blobs created', async () => {
      expect((await call(registry, 'DELETE', `/v2/${name}/blobs/${cfgs[1]!.digest}`)).status).toBe(202);
      expect((await call(registry, 'DELETE', `/v2/${name}/blobs/${layerDigest}`)).status).toBe(202);
      expect((await call(registry, 'DELETE', `/v2/${name}/manifests/${manifest1.digest}`)).status).toBe(202);
    });
  });

  describe('Content Discovery', () => {
    const repo = 'conformance/discovery';
    const m2 = imageManifest(cfgs[2]!);
    const m4 = imageManifest(cfgs[4]!);
    const m3 = imageManifest(cfgs[3]!);
    const refBlobA = randomBytes(40);
    const refBlobB = randomBytes(41);
    const typeA = 'application/vnd.nhl.peanut.butter.bagel';
    const typeB = 'application/vnd.nba.strawberry.jam.croissant';
    const subject = (m: { digest: string; length: string }) => ({
      mediaType: OCI_MANIFEST,
      digest: m.digest,
      size: Number(m.length),
    });
    const configArtifact = (blob: Uint8Array, value: string, subj = m4) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: typeA, digest: sha256(blob), size: blob.length },
        layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyJSONDigest, size: 2 }],
        subject: subject(subj),
        annotations: { [annotationKey]: value },
      });
    const layerArtifact = (blob: Uint8Array, value: string, subj = m4) =>
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: typeB,
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: emptyJSONDigest, size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256(blob), size: blob.length }],
        subject: subject(subj),
        annotations: { [annotationKey]: value },
      });
    const aConfig = configArtifact(refBlobA, 'test config a');
    const aLayer = layerArtifact(refBlobA, 'test layer a');
    const bConfig = configArtifact(refBlobB, 'test config b');
    const bLayer = layerArtifact(refBlobB, 'test layer b');
    const cLayer = layerArtifact(refBlobA, 'test layer c', m3);
    const refsIndex = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      artifactType: 'application/vnd.food.stand',
      manifests: [
        { mediaType: OCI_MANIFEST, digest: sha256(aConfig), size: Buffer.byteLength(aConfig) },
        { mediaType: OCI_MANIFEST, digest: sha256(aLayer), size: Buffer.byteLength(aLayer) },
      ],
      subject: subject(m4),
      annotations: { [annotationKey]: 'test index' },
    });
    const putManifest = async (ref: string, content: string, type = OCI_MANIFEST) => {
      const r = await call(registry, 'PUT', `/v2/${repo}/manifests/${ref}`, {
        headers: { 'Content-Type': type },
        body: content,
      });
      expect(r.status, r.text).toBe(201);
      return r;
    };

    it('Setup: populates blobs, four tags and referrers (some pushed before their subject)', async () => {
      await upload(repo, cfgs[2]!.content);
      await upload(repo, layer);
      for (let i = 0; i < 4; i++) await putManifest(`test${i}`, m2.content);
      await upload(repo, emptyJSON);
      await upload(repo, refBlobA);
      expect((await putManifest(sha256(aConfig), aConfig)).headers.get('oci-subject')).toBe(m4.digest);
      expect((await putManifest(sha256(aLayer), aLayer)).headers.get('oci-subject')).toBe(m4.digest);
      expect((await putManifest(sha256(refsIndex), refsIndex, OCI_INDEX)).headers.get('oci-subject')).toBe(m4.digest);
      await upload(repo, cfgs[4]!.content);
      await putManifest('tagtest0', m4.content);
      await upload(repo, refBlobB);
      expect((await putManifest(sha256(bConfig), bConfig)).headers.get('oci-subject')).toBe(m4.digest);
      expect((await putManifest(sha256(bLayer), bLayer)).headers.get('oci-subject')).toBe(m4.digest);
      expect((await putManifest(sha256(cLayer), cLayer)).headers.get('oci-subject')).toBe(m3.digest);
    });
    it('GET request to list tags should yield 200 response, in lexical order', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/tags/list`);
      expect(r.status).toBe(200);
      expect(r.json()).toEqual({ name: repo, tags: ['tagtest0', 'test0', 'test1', 'test2', 'test3'] });
    });
    it('GET number of tags should be limitable by `n` query parameter, with a Link to the rest', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/tags/list`, { query: { n: '2' } });
      expect(r.status).toBe(200);
      expect(r.json().tags).toEqual(['tagtest0', 'test0']);
      expect(r.headers.get('link')).toBe(`</v2/${repo}/tags/list?n=2&last=test0>; rel="next"`);
    });
    it('GET start of tag is set by `last` query parameter', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/tags/list`, { query: { n: '2', last: 'test0' } });
      expect(r.json().tags).toEqual(['test1', 'test2']);
      const end = await call(registry, 'GET', `/v2/${repo}/tags/list`, { query: { n: '2', last: 'test2' } });
      expect(end.json().tags).toEqual(['test3']);
      expect(end.headers.get('link')).toBeNull();
    });
    it('GET referrers of a nonexistent manifest should result in an empty 200 index', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/referrers/${dummyDigest}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe(OCI_INDEX);
      expect(r.json().manifests).toEqual([]);
    });
    it('GET referrers of an existing manifest should list all five with their annotations', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/referrers/${m4.digest}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe(OCI_INDEX);
      const list = r.json().manifests as {
        digest: string;
        artifactType: string;
        annotations: Record<string, string>;
      }[];
      expect(list).toHaveLength(5);
      expect(new Set(list.map((m) => m.digest)).size).toBe(5);
      for (const m of list) expect(Object.keys(m.annotations)).toHaveLength(1);
      expect(list.find((m) => m.digest === sha256(aConfig))?.artifactType).toBe(typeA);
      expect(list.find((m) => m.digest === sha256(refsIndex))?.artifactType).toBe('application/vnd.food.stand');
    });
    it('GET referrers with an artifactType filter should list two and say OCI-Filters-Applied', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/referrers/${m4.digest}`, { query: { artifactType: typeA } });
      expect(r.headers.get('oci-filters-applied')).toBe('artifactType');
      const list = r.json().manifests as { digest: string; annotations: Record<string, string> }[];
      expect(list.map((m) => m.digest).sort()).toEqual([sha256(aConfig), sha256(bConfig)].sort());
    });
    it('GET referrers of a missing manifest should list its dangling referrer', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/referrers/${m3.digest}`);
      expect(r.status).toBe(200);
      expect(r.json().manifests.map((m: { digest: string }) => m.digest)).toEqual([sha256(cLayer)]);
    });
    it('Teardown: deleting a referrer removes it from the referrers list', async () => {
      for (const d of [sha256(refsIndex), sha256(aConfig)])
        expect((await call(registry, 'DELETE', `/v2/${repo}/manifests/${d}`)).status).toBe(202);
      const r = await call(registry, 'GET', `/v2/${repo}/referrers/${m4.digest}`);
      expect(r.json().manifests).toHaveLength(3);
    });
  });

  describe('Content Management', () => {
    const repo = 'conformance/management';
    const m = imageManifest(cfgs[0]!);
    let numTags = 0;
    it('Setup: populates a blob, a layer and tags', async () => {
      await upload(repo, cfgs[0]!.content);
      await upload(repo, layer);
      for (const t of ['tagtest0', 'tagtest1', 'other']) {
        expect(
          (
            await call(registry, 'PUT', `/v2/${repo}/manifests/${t}`, {
              headers: { 'Content-Type': OCI_MANIFEST },
              body: m.content,
            })
          ).status,
        ).toBe(201);
      }
      numTags = (await call(registry, 'GET', `/v2/${repo}/tags/list`)).json().tags.length;
      expect(numTags).toBe(3);
    });
    it('DELETE request to manifest tag should return 202 and leave the manifest', async () => {
      expect((await call(registry, 'DELETE', `/v2/${repo}/manifests/tagtest0`)).status).toBe(202);
      expect((await call(registry, 'GET', `/v2/${repo}/manifests/tagtest0`)).status).toBe(404);
      expect((await call(registry, 'GET', `/v2/${repo}/manifests/${m.digest}`)).status).toBe(200);
    });
    it('DELETE request to manifest (digest) should yield 202 response', async () => {
      expect((await call(registry, 'DELETE', `/v2/${repo}/manifests/${m.digest}`)).status).toBe(202);
      expect((await call(registry, 'DELETE', `/v2/${repo}/manifests/${m.digest}`)).status).toBe(404);
    });
    it('GET request to deleted manifest URL should yield 404 response', async () => {
      expect((await call(registry, 'GET', `/v2/${repo}/manifests/${m.digest}`)).status).toBe(404);
      expect((await call(registry, 'GET', `/v2/${repo}/manifests/tagtest1`)).status).toBe(404);
    });
    it('GET request to tags list should reflect manifest deletion', async () => {
      const r = await call(registry, 'GET', `/v2/${repo}/tags/list`);
      expect(r.status).toBe(200);
      expect(r.json().tags.length).toBeLessThan(numTags);
      expect(r.json().tags).toEqual([]);
    });
    it('DELETE request to blob URL should yield 202 response; GET of the deleted blob yields 404', async () => {
      expect((await call(registry, 'DELETE', `/v2/${repo}/blobs/${cfgs[0]!.digest}`)).status).toBe(202);
      expect((await call(registry, 'GET', `/v2/${repo}/blobs/${cfgs[0]!.digest}`)).status).toBe(404);
      expect((await call(registry, 'DELETE', `/v2/${repo}/blobs/${cfgs[0]!.digest}`)).status).toBe(404);
    });
  });
});
