import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hash, isLadeError } from '@lade/digest';
import { copy, MemoryImageStore, parseImageIndex } from '@lade/manifest';
import {
  freePort,
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  runOk,
  startRegistry,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createFetchTransport,
  dockerCredentials,
  dockerErrorMessage,
  ManifestUnknownError,
  Registry,
  RegistryClient,
  RegistryConnectionError,
  registrySource,
  UnauthorizedError,
} from '../../src/index.js';

async function skopeoDigest(ref: string, creds?: string): Promise<string> {
  const out = await runOk('skopeo', [
    'inspect',
    '--tls-verify=false',
    ...(creds ? ['--creds', creds] : []),
    '--format',
    '{{.Digest}}',
    `docker://${ref}`,
  ]);
  return out.trim();
}

async function skopeoRaw(ref: string): Promise<string> {
  return runOk('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]);
}

describe.runIf(peersAvailable('skopeo', 'docker-registry'))('pull from a real docker-registry', () => {
  let reg: PeerRegistry;
  let layout: string;
  let client: RegistryClient;

  beforeAll(async () => {
    layout = await peerFixtures({ big: 8 });
    reg = await startRegistry();
    await pushPeerFixtures(layout, reg.host);
    client = new RegistryClient({ credentials: null });
  });
  afterAll(async () => {
    await client?.close();
    await reg?.stop();
  });

  it('pulls a tag with every blob verified and resolves the digest skopeo reports', async () => {
    const store = new MemoryImageStore();
    const src = registrySource(`${reg.host}/fixtures/tricky:latest`, { client });
    const events: string[] = [];
    const result = await copy(src, store.sink('tricky'), { onProgress: (e) => events.push(e.type) });
    expect(result.root.digest).toBe(await skopeoDigest(`${reg.host}/fixtures/tricky:latest`));
    expect(result.blobs).toBe(3); // config + 2 layers
    expect(events).toContain('downloading');
    for (const [digest, bytes] of store.blobs) expect(hash(bytes)).toBe(digest);
  });

  it('pulls by digest', async () => {
    const digest = await skopeoDigest(`${reg.host}/fixtures/amd64:latest`);
    const store = new MemoryImageStore();
    const src = registrySource(`${reg.host}/fixtures/amd64@${digest}`, { client });
    expect((await src.resolve()).digest).toBe(digest);
    const result = await copy(src, store.sink(digest));
    expect(result.root.digest).toBe(digest);
  });

  it('pulls the arm64 image out of the multi-platform index', async () => {
    const index = parseImageIndex(new TextEncoder().encode(await skopeoRaw(`${reg.host}/fixtures/multi:latest`)));
    const arm = index.index.manifests.find((m) => m.platform?.architecture === 'arm64');
    const src = registrySource(`${reg.host}/fixtures/multi:latest`, { client });
    const root = await src.resolve();
    expect(root.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(root.digest).toBe(index.digest);
    const result = await copy(src, new MemoryImageStore().sink('multi'), { platform: 'linux/arm64' });
    expect(result.root.digest).toBe(arm?.digest);
  });

  it('pulls every platform of the index with all: true', async () => {
    const store = new MemoryImageStore();
    const result = await copy(registrySource(`${reg.host}/fixtures/multi:latest`, { client }), store.sink('multi'), {
      all: true,
    });
    expect(result.manifests).toHaveLength(3);
    expect(result.root.digest).toBe(await skopeoDigest(`${reg.host}/fixtures/multi:latest`));
  });

  it('fetches a manifest by tag with the full Accept list and checks Docker-Content-Digest against the bytes', async () => {
    const r = client.registry(reg.host);
    const { descriptor, bytes } = await r.getManifest('fixtures/multi', 'latest');
    expect(descriptor.digest).toBe(hash(bytes));
    expect(descriptor.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const head = await r.headManifest('fixtures/multi', 'latest');
    expect(head).toEqual(descriptor);
  });

  it('streams a blob from an offset and verifies it when asked', async () => {
    const r = client.registry(reg.host);
    const { bytes } = await r.getManifest('fixtures/big', 'latest');
    const layer = (JSON.parse(new TextDecoder().decode(bytes)) as { layers: { digest: string; size: number }[] })
      .layers[0]!;
    const whole = new Uint8Array(
      await new Response(await r.openBlob('fixtures/big', layer as never, { verify: true })).arrayBuffer(),
    );
    expect(whole.byteLength).toBe(layer.size);
    const tail = new Uint8Array(
      await new Response(await r.openBlob('fixtures/big', layer as never, { offset: 1000 })).arrayBuffer(),
    );
    expect(hash(tail)).toBe(hash(whole.subarray(1000)));
  });

  it('lists every tag and the catalog following Link pagination', async () => {
    const r = client.registry(reg.host);
    const { descriptor, bytes } = await r.getManifest('fixtures/amd64', 'latest');
    for (const t of ['a', 'b', 'c', 'd', 'e']) await r.putManifest('fixtures/amd64', t, bytes, descriptor.mediaType);
    // docker-registry 2.8 pages the catalog (and, from 3.0, tags) with n/last and a Link header.
    const tags: string[] = [];
    for await (const p of r.tagPages('fixtures/amd64', { pageSize: 2 })) tags.push(...p);
    expect(tags.sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'latest']);
    const pages: string[][] = [];
    for await (const p of r.catalogPages({ pageSize: 2 })) pages.push(p);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.flat()).toEqual([
      'fixtures/amd64',
      'fixtures/arm64',
      'fixtures/big',
      'fixtures/multi',
      'fixtures/tricky',
    ]);
    expect(await r.catalog({ pageSize: 4 })).toEqual(pages.flat());
  });

  it('pulls every tag of a repository (pull --all-tags)', async () => {
    const r = client.registry(reg.host);
    const { descriptor, bytes } = await r.getManifest('fixtures/arm64', 'latest');
    await r.putManifest('fixtures/arm64', 'second', bytes, descriptor.mediaType);
    const store = new MemoryImageStore();
    const tags = await r.listTags('fixtures/arm64');
    expect(tags.sort()).toEqual(['latest', 'second']);
    for (const t of tags) await copy(registrySource(`${reg.host}/fixtures/arm64:${t}`, { client }), store.sink(t));
    expect(store.resolve('latest')?.digest).toBe(store.resolve('second')?.digest);
  });

  it('reports a missing tag as MANIFEST_UNKNOWN in docker words', async () => {
    const src = registrySource(`${reg.host}/fixtures/tricky:nope`, { client });
    const err = await src.resolve().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ManifestUnknownError);
    expect(isLadeError(err) && err.code).toBe('MANIFEST_UNKNOWN');
    expect(dockerErrorMessage(err, { action: 'pull', name: `${reg.host}/fixtures/tricky`, reference: 'nope' })).toBe(
      `manifest for ${reg.host}/fixtures/tricky:nope not found: manifest unknown: manifest unknown`,
    );
    // GET answers the registry's own error body.
    const got = await client
      .registry(reg.host)
      .getManifest('fixtures/tricky', 'nope')
      .catch((e: unknown) => e);
    expect(got).toBeInstanceOf(ManifestUnknownError);
    expect((got as ManifestUnknownError).registryMessage).toBe('manifest unknown: manifest unknown');
  });

  it('names the host when the connection is refused', async () => {
    const port = await freePort();
    const r = new Registry(`127.0.0.1:${port}`, { credentials: null, retry: { retries: 1, minDelayMs: 10 } });
    const err = await r.ping().catch((e: unknown) => e);
    await r.close();
    expect(err).toBeInstanceOf(RegistryConnectionError);
    expect((err as RegistryConnectionError).failure).toBe('refused');
    expect((err as Error).message).toBe(
      `Get "http://127.0.0.1:${port}/v2/": dial tcp 127.0.0.1:${port}: connect: connection refused`,
    );
  });

  it('pulls the same through the global-fetch transport used off Node', async () => {
    const r = new Registry(reg.host, { credentials: null, transport: createFetchTransport() });
    const src = registrySource(`${reg.host}/fixtures/tricky:latest`, { client });
    const root = await src.resolve();
    const { descriptor, bytes } = await r.getManifest('fixtures/tricky', 'latest');
    expect(descriptor).toEqual(root);
    const config = (JSON.parse(new TextDecoder().decode(bytes)) as { layers: { digest: string; size: number }[] })
      .layers[1]!;
    const blob = new Uint8Array(
      await new Response(await r.openBlob('fixtures/tricky', config as never, { verify: true })).arrayBuffer(),
    );
    expect(hash(blob)).toBe(config.digest);
    await r.close();
  });

  it('refuses plain http to a host not marked insecure', () => {
    expect(() => new Registry('registry.example.com', { scheme: 'http' })).toThrow(/refusing plain http/);
  });
});

describe.runIf(peersAvailable('skopeo', 'docker-registry', 'htpasswd'))(
  'pull from a docker-registry with basic auth',
  () => {
    let reg: PeerRegistry;
    let layout: string;
    let cfg: { path: string; cleanup: () => Promise<void> };

    beforeAll(async () => {
      layout = await peerFixtures({ big: 8 });
      reg = await startRegistry({ auth: 'lade:s3cret' });
      for (const t of ['amd64']) {
        await runOk('skopeo', [
          'copy',
          '-q',
          '--dest-tls-verify=false',
          '--dest-creds',
          'lade:s3cret',
          `oci:${layout}:${t}`,
          `docker://${reg.host}/fixtures/${t}:latest`,
        ]);
      }
      cfg = await tempDir('lade-docker-config-');
    });
    afterAll(async () => {
      await reg?.stop();
      await cfg?.cleanup();
    });

    it("is refused anonymously with UNAUTHORIZED and docker's pull access denied message", async () => {
      const src = registrySource(`${reg.host}/fixtures/amd64:latest`, { credentials: null });
      const err = await src.resolve().catch((e: unknown) => e);
      await src.close?.();
      expect(err).toBeInstanceOf(UnauthorizedError);
      expect((err as UnauthorizedError).code).toBe('UNAUTHORIZED');
      expect(dockerErrorMessage(err, { action: 'pull', name: `${reg.host}/fixtures/amd64` })).toMatch(
        new RegExp(
          `^pull access denied for ${reg.host}/fixtures/amd64, repository does not exist or may require 'docker login'`,
        ),
      );
    });

    it('pulls with basic credentials read from DOCKER_CONFIG config.json', async () => {
      await writeFile(
        join(cfg.path, 'config.json'),
        JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('lade:s3cret').toString('base64') } } }),
      );
      const src = registrySource(`${reg.host}/fixtures/amd64:latest`, {
        credentials: dockerCredentials({ env: { DOCKER_CONFIG: cfg.path } }),
      });
      const result = await copy(src, new MemoryImageStore().sink('x'));
      await src.close?.();
      expect(result.root.digest).toBe(await skopeoDigest(`${reg.host}/fixtures/amd64:latest`, 'lade:s3cret'));
    });

    it('rejects a wrong password at login and accepts the right one', async () => {
      const r = new Registry(reg.host, { credentials: null });
      await expect(r.login({ username: 'lade', password: 'wrong' })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(r.login({ username: 'lade', password: 's3cret' })).resolves.toEqual({});
      await r.close();
    });
  },
);

describe.runIf(peersAvailable('skopeo', 'docker-registry'))('Docker Hub mirrors', () => {
  let empty: PeerRegistry;
  let full: PeerRegistry;

  beforeAll(async () => {
    const layout = await peerFixtures({ big: 8 });
    empty = await startRegistry();
    full = await startRegistry();
    await pushPeerFixtures(layout, full.host, ['amd64']);
  });
  afterAll(async () => {
    await empty?.stop();
    await full?.stop();
  });

  it('pulls a docker.io image from the first mirror that has it, falling through one that does not', async () => {
    const src = registrySource('fixtures/amd64:latest', {
      credentials: null,
      mirrors: [`http://${empty.host}`, `http://${full.host}`],
    });
    const result = await copy(src, new MemoryImageStore().sink('m'));
    expect(src.registry.host).toBe(full.host);
    expect(src.name).toBe('docker://docker.io/fixtures/amd64:latest');
    await src.close?.();
    expect(result.root.digest).toBe(await skopeoDigest(`${full.host}/fixtures/amd64:latest`));
  });

  it('does not use mirrors for other registries', async () => {
    const src = registrySource(`${empty.host}/fixtures/amd64:latest`, {
      credentials: null,
      mirrors: [`http://${full.host}`],
    });
    await expect(src.resolve()).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await src.close?.();
  });

  it('refuses an http mirror that is neither loopback nor marked insecure', () => {
    expect(() => registrySource('alpine', { mirrors: ['http://mirror.example.com'] })).toThrow(
      /refusing the http mirror/,
    );
  });
});
