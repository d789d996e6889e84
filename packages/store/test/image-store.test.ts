import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Digest, hash } from '@lade/digest';
import { copy, MemoryImageStore } from '@lade/manifest';
import { tempDir } from '@lade/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defaultStoreRoot,
  ImageStore,
  NAME_ANNOTATION,
  REF_NAME_ANNOTATION,
  REPO_DIGESTS_ANNOTATION,
} from '../src/index.js';
import { putTestImage, putTestIndex, snapshotDir, streamOf } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function openStore(): Promise<ImageStore> {
  const t = await tempDir('lade-store-');
  cleanups.push(t.cleanup);
  return ImageStore.open(t.path, { fsync: false, platform: { os: 'linux', architecture: 'amd64' } });
}

async function indexJson(
  store: ImageStore,
): Promise<{ manifests: { digest: string; annotations?: Record<string, string> }[] }> {
  return JSON.parse(await readFile(join(store.root, 'index.json'), 'utf8'));
}

async function pull(
  store: ImageStore,
  mem: MemoryImageStore,
  tag: string,
  name: string,
  options: { repoDigest?: string; all?: boolean } = {},
) {
  const sink = store.sink(name, options.repoDigest ? { repoDigest: options.repoDigest } : {});
  try {
    return await copy(mem.source(tag), sink, { platform: 'linux/amd64', ...(options.all ? { all: true } : {}) });
  } finally {
    await sink.close?.();
  }
}

describe('ImageStore layout', () => {
  it('creates an OCI image layout on open', async () => {
    const store = await openStore();
    expect(JSON.parse(await readFile(join(store.root, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(await indexJson(store)).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [],
    });
    expect((await readdir(join(store.root, 'blobs'))).sort()).toEqual(['sha256']);
  });

  it('defaults its root to $LADE_HOME, then XDG_DATA_HOME/lade, then ~/.local/share/lade', () => {
    expect(defaultStoreRoot({ LADE_HOME: '/x/lade' })).toBe('/x/lade');
    expect(defaultStoreRoot({ XDG_DATA_HOME: '/d' })).toBe('/d/lade');
    expect(defaultStoreRoot({})).toMatch(/\.local\/share\/lade$/);
  });

  it('refuses to turn a non-empty directory that is no layout into a store, writing nothing', async () => {
    const t = await tempDir('lade-notastore-');
    cleanups.push(t.cleanup);
    await writeFile(join(t.path, 'notes.txt'), 'mine');
    await expect(ImageStore.open(t.path)).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    expect(await readdir(t.path)).toEqual(['notes.txt']);
  });

  it('refuses an index.json that is not an OCI index with LAYOUT_INVALID', async () => {
    const store = await openStore();
    await writeFile(join(store.root, 'index.json'), '{"schemaVersion": 1}');
    await expect(store.listImages()).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    await writeFile(join(store.root, 'index.json'), 'not json');
    await expect(store.listImages()).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
  });
});

describe('pulling into the store (sink)', () => {
  it('names the image with the familiar ref.name and the full name annotation', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['one', 'two'], created: '2024-01-02T03:04:05Z' });
    await pull(store, mem, 'a', 'alpine:3.19', { repoDigest: img.manifest.digest });
    const idx = await indexJson(store);
    expect(idx.manifests).toHaveLength(1);
    expect(idx.manifests[0]!.digest).toBe(img.manifest.digest);
    expect(idx.manifests[0]!.annotations).toMatchObject({
      [REF_NAME_ANNOTATION]: 'alpine:3.19',
      [NAME_ANNOTATION]: 'docker.io/library/alpine:3.19',
      [REPO_DIGESTS_ANNOTATION]: `docker.io/library/alpine@${img.manifest.digest}`,
    });
    const rows = await store.listImages();
    expect(rows).toEqual([
      expect.objectContaining({
        repository: 'alpine',
        tag: '3.19',
        name: 'docker.io/library/alpine:3.19',
        imageId: img.config.digest,
        manifestDigest: img.manifest.digest,
        digest: img.manifest.digest,
        repoTags: ['alpine:3.19'],
        repoDigests: [`alpine@${img.manifest.digest}`],
        created: '2024-01-02T03:04:05Z',
        size: img.config.size + img.layers[0]!.size + img.layers[1]!.size,
        dangling: false,
      }),
    ]);
  });

  it('keeps non-Docker-Hub names whole in ref.name', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', '127.0.0.1:5000/fixtures/tricky');
    const idx = await indexJson(store);
    expect(idx.manifests[0]!.annotations?.[REF_NAME_ANNOTATION]).toBe('127.0.0.1:5000/fixtures/tricky:latest');
    const [row] = await store.listImages();
    expect(row).toMatchObject({ repository: '127.0.0.1:5000/fixtures/tricky', tag: 'latest' });
  });

  it('leaves index.json unchanged when a blob fails verification, with DIGEST_INVALID', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['good layer'] });
    mem.putBlobUnchecked(img.layers[0]!.digest, new TextEncoder().encode('evil layer'));
    const before = await readFile(join(store.root, 'index.json'), 'utf8');
    await expect(pull(store, mem, 'a', 'app:1')).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await readFile(join(store.root, 'index.json'), 'utf8')).toBe(before);
    expect(await store.listImages()).toEqual([]);
    expect(await store.blobs.has(img.layers[0]!.digest)).toBe(false);
  });

  it('refuses to commit a root whose blobs are missing, with BLOB_UNKNOWN, and writes no name', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['l'] });
    const sink = store.sink('app:1');
    await sink.writeManifest(img.manifest, mem.getManifest(img.manifest.digest)!.bytes, { root: true });
    await expect(sink.commit!()).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    await sink.close!();
    expect(await store.listImages()).toEqual([]);
  });

  it('refuses a manifest whose bytes do not match its descriptor, writing nothing', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['l'] });
    const before = await snapshotDir(store.root);
    const sink = store.sink('app:1');
    await expect(
      sink.writeManifest(
        { ...img.manifest, digest: hash('other') as Digest },
        mem.getManifest(img.manifest.digest)!.bytes,
        { root: true },
      ),
    ).rejects.toMatchObject({
      code: 'DIGEST_INVALID',
    });
    await sink.close!();
    expect(await snapshotDir(store.root)).toEqual(before);
  });

  it('commit without a root manifest is MANIFEST_UNKNOWN', async () => {
    const store = await openStore();
    const sink = store.sink('app:1');
    await expect(sink.commit!()).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
  });

  it('rejects an invalid name with NAME_INVALID before writing anything', async () => {
    const store = await openStore();
    const before = await snapshotDir(store.root);
    expect(() => store.sink('Alpine:3')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(() => store.sink('bad name')).toThrow(expect.objectContaining({ code: 'NAME_INVALID' }));
    expect(await snapshotDir(store.root)).toEqual(before);
  });

  it('a moved tag leaves the old image dangling as <none>:<none> with its repo digest', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const v1 = putTestImage(mem, { tag: 'v1', layers: ['v1'], created: '2024-01-01T00:00:00Z' });
    const v2 = putTestImage(mem, { tag: 'v2', layers: ['v2'], created: '2024-02-01T00:00:00Z' });
    await pull(store, mem, 'v1', 'app:latest', { repoDigest: v1.manifest.digest });
    await pull(store, mem, 'v2', 'app:latest', { repoDigest: v2.manifest.digest });
    const rows = await store.listImages();
    expect(rows.map((r) => [r.repository, r.tag, r.imageId, r.dangling])).toEqual([
      ['app', 'latest', v2.config.digest, false],
      ['app', '<none>', v1.config.digest, true],
    ]);
    expect((await store.listImages({ filters: { dangling: true } })).map((r) => r.imageId)).toEqual([v1.config.digest]);
    expect((await store.listImages({ filters: { dangling: false } })).map((r) => r.imageId)).toEqual([
      v2.config.digest,
    ]);
    const idx = await indexJson(store);
    const old = idx.manifests.find((m) => m.digest === v1.manifest.digest)!;
    expect(old.annotations?.[REF_NAME_ANNOTATION]).toBeUndefined();
  });

  it('a moved tag without repo digest leaves <none>:<none>', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'v1', layers: ['v1'], created: '2024-01-01T00:00:00Z' });
    putTestImage(mem, { tag: 'v2', layers: ['v2'], created: '2024-02-01T00:00:00Z' });
    await pull(store, mem, 'v1', 'app');
    await pull(store, mem, 'v2', 'app');
    expect((await store.listImages()).map((r) => `${r.repository}:${r.tag}`)).toEqual(['app:latest', '<none>:<none>']);
  });

  it('pulling the same image again keeps one entry', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    await pull(store, mem, 'a', 'app:1');
    expect((await indexJson(store)).manifests).toHaveLength(1);
  });

  it('a by-digest pull is an untagged image with its repo digest', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', `alpine@${img.manifest.digest}`);
    const [row] = await store.listImages();
    expect(row).toMatchObject({
      repository: 'alpine',
      tag: '<none>',
      digest: img.manifest.digest,
      repoDigests: [`alpine@${img.manifest.digest}`],
      repoTags: [],
    });
    expect((await store.resolve(`alpine@${img.manifest.digest}`)).matchedBy).toBe('digest');
    // then by tag: one image with both
    await pull(store, mem, 'a', 'alpine:3');
    const rows = await store.listImages();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ tag: '3', repoDigests: [`alpine@${img.manifest.digest}`] });
  });

  it('keeps a whole index with --all and lists the host platform image', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const idx = putTestIndex(mem, 'multi');
    await pull(store, mem, 'multi', 'multi:1', { all: true });
    const [row] = await store.listImages();
    expect(row).toMatchObject({
      manifestDigest: idx.index.digest,
      imageId: idx.amd64Config.digest,
      mediaType: 'application/vnd.oci.image.index.v1+json',
    });
    expect((await store.inspect('multi:1')).Architecture).toBe('amd64');
    expect((await store.fsck()).ok).toBe(true);
  });
});

describe('unnamed images and repo digests', () => {
  it('a sink without a name stores a <none>:<none> image, found by ID', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    const sink = store.sink();
    await copy(mem.source('a'), sink);
    const rows = await store.listImages();
    expect(rows.map((r) => [r.repository, r.tag, r.imageId, r.dangling])).toEqual([
      ['<none>', '<none>', img.config.digest, true],
    ]);
    expect((await indexJson(store)).manifests[0]!.annotations?.[REF_NAME_ANNOTATION]).toBeUndefined();
    expect((await store.resolve(img.config.digest.slice(7, 19))).root.digest).toBe(img.manifest.digest);
    // Loading it again once it has a name adds nothing.
    await store.tag(img.config.digest, 'named:1');
    await copy(mem.source('a'), store.sink());
    expect((await store.listImages()).map((r) => `${r.repository}:${r.tag}`)).toEqual(['named:1']);
  });

  it('takes a repo digest as a bare digest or as name@digest', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    const other = hash('index bytes');
    await copy(mem.source('a'), store.sink('app:1', { repoDigest: other }));
    await copy(mem.source('a'), store.sink('app:1', { repoDigest: `registry.local/app@${img.manifest.digest}` }));
    expect((await store.inspect('app:1')).RepoDigests.slice().sort()).toEqual(
      [`app@${other}`, `registry.local/app@${img.manifest.digest}`].sort(),
    );
    expect(() => store.sink(undefined, { repoDigest: other })).toThrow(
      expect.objectContaining({ code: 'NAME_INVALID' }),
    );
    expect(() => store.sink('app:1', { repoDigest: 'app:2' })).toThrow(
      expect.objectContaining({ code: 'NAME_INVALID' }),
    );
  });
});

describe('resolve', () => {
  it('finds images by familiar or full name, by ID, ID prefix and manifest digest', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'alpine');
    for (const q of ['alpine', 'alpine:latest', 'docker.io/library/alpine:latest', 'library/alpine']) {
      expect((await store.resolve(q)).imageId).toBe(img.config.digest);
    }
    const hex = img.config.digest.slice(7);
    for (const q of [img.config.digest, hex, hex.slice(0, 12), `sha256:${hex.slice(0, 5)}`]) {
      const r = await store.resolve(q);
      expect(r.imageId).toBe(img.config.digest);
      expect(r.matchedBy).toBe('id');
    }
    expect((await store.resolve(img.manifest.digest)).root.digest).toBe(img.manifest.digest);
  });

  it("an unknown name or ID is IMAGE_UNKNOWN with docker's message", async () => {
    const store = await openStore();
    await expect(store.resolve('nothere')).rejects.toMatchObject({
      code: 'IMAGE_UNKNOWN',
      message: 'No such image: nothere',
    });
    await expect(store.resolve('sha256:abcdef')).rejects.toMatchObject({ code: 'IMAGE_UNKNOWN' });
    await expect(store.resolve('UPPER!')).rejects.toMatchObject({ code: 'NAME_INVALID' });
  });

  it('an ambiguous ID prefix is AMBIGUOUS and lists the candidates', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const ids: string[] = [];
    // Find two images whose IDs share the first hex digit.
    for (let i = 0; ids.length < 2 || ids[0]![7] !== ids[ids.length - 1]![7]; i++) {
      const img = putTestImage(mem, { tag: `t${i}`, layers: [`layer ${i}`] });
      if (ids.length === 0 || img.config.digest[7] === ids[0]![7]) {
        ids.push(img.config.digest);
        await pull(store, mem, `t${i}`, `img${i}`);
      }
    }
    const prefix = ids[0]!.slice(7, 8);
    const err = await store.resolve(prefix).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'AMBIGUOUS' });
    expect((err as { candidates: string[] }).candidates).toEqual([...ids].sort());
    const before = await snapshotDir(store.root);
    await expect(store.remove(prefix, { force: true })).rejects.toMatchObject({ code: 'AMBIGUOUS' });
    await expect(store.tag(prefix, 'x:1')).rejects.toMatchObject({ code: 'AMBIGUOUS' });
    await expect(store.inspect(prefix)).rejects.toMatchObject({ code: 'AMBIGUOUS' });
    expect(await snapshotDir(store.root)).toEqual(before);
  });
});

describe('tag, untag, remove', () => {
  it('tags by name or ID and lists every tag', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    await store.tag('app:1', 'app:2');
    await store.tag(img.config.digest.slice(7, 19), 'registry.local:5000/team/app:prod');
    const rows = await store.listImages();
    expect(rows.map((r) => `${r.repository}:${r.tag}`).sort()).toEqual([
      'app:1',
      'app:2',
      'registry.local:5000/team/app:prod',
    ]);
    expect(new Set(rows.map((r) => r.imageId))).toEqual(new Set([img.config.digest]));
    expect(rows[0]!.repoTags.slice().sort()).toEqual(['app:1', 'app:2', 'registry.local:5000/team/app:prod']);
    const refNames = (await indexJson(store)).manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION]).sort();
    expect(refNames).toEqual(['app:1', 'app:2', 'registry.local:5000/team/app:prod']);
  });

  it('tag errors: unknown source IMAGE_UNKNOWN, digest target NAME_INVALID, nothing written', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    const before = await snapshotDir(store.root);
    await expect(store.tag('nope:1', 'app:2')).rejects.toMatchObject({ code: 'IMAGE_UNKNOWN' });
    await expect(store.tag('app:1', `app@${img.manifest.digest}`)).rejects.toMatchObject({ code: 'NAME_INVALID' });
    await expect(store.tag('app:1', 'Bad:Name')).rejects.toMatchObject({ code: 'NAME_INVALID' });
    expect(await snapshotDir(store.root)).toEqual(before);
  });

  it('untag removes one tag and leaves the image dangling after the last', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    await store.tag('app:1', 'app:2');
    expect(await store.untag('app:1')).toEqual([{ Untagged: 'app:1' }]);
    expect((await store.listImages()).map((r) => r.tag)).toEqual(['2']);
    await store.untag('app:2');
    expect((await store.listImages()).map((r) => `${r.repository}:${r.tag}`)).toEqual(['<none>:<none>']);
    await expect(store.untag('app:2')).rejects.toMatchObject({ code: 'IMAGE_UNKNOWN' });
  });

  it('untag and rmi remove a name written twice (by lade and by skopeo) at once', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'tricky:latest');
    const idx = await indexJson(store);
    idx.manifests.push({ ...idx.manifests[0]!, annotations: { [REF_NAME_ANNOTATION]: 'tricky' } });
    await writeFile(join(store.root, 'index.json'), JSON.stringify(idx));
    expect((await store.listImages()).map((r) => `${r.repository}:${r.tag}`)).toEqual(['tricky:latest']);
    await store.tag('tricky', 'keep:1');
    expect(await store.remove('tricky')).toEqual([{ Untagged: 'tricky:latest' }]);
    expect((await indexJson(store)).manifests.map((m) => m.annotations?.[REF_NAME_ANNOTATION])).toEqual(['keep:1']);
    expect((await store.resolve('keep:1')).imageId).toBe(img.config.digest);
  });

  it('rmi by name untags; the last name deletes the image and its blobs', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1', { repoDigest: img.manifest.digest });
    await store.tag('app:1', 'app:2');
    expect(await store.remove('app:1')).toEqual([{ Untagged: 'app:1' }]);
    const events = await store.remove('app:2');
    expect(events.slice(0, 3)).toEqual([
      { Untagged: 'app:2' },
      { Untagged: `app@${img.manifest.digest}` },
      { Deleted: img.config.digest },
    ]);
    expect(
      events
        .slice(3)
        .map((e) => ('Deleted' in e ? e.Deleted : ''))
        .sort(),
    ).toEqual([img.manifest.digest, img.layers[0]!.digest].sort());
    expect(await store.listImages()).toEqual([]);
    const left: string[] = [];
    for await (const d of store.blobs.list()) left.push(d);
    expect(left).toEqual([]);
  });

  it('rmi by ID refuses an image with several tags unless forced (CONFLICT, nothing changed)', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    await store.tag('app:1', 'other:1');
    const before = await snapshotDir(store.root);
    const short = img.config.digest.slice(7, 19);
    const err = await store.remove(short).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'CONFLICT',
      message: `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
    });
    expect(await snapshotDir(store.root)).toEqual(before);
    const events = await store.remove(short, { force: true });
    expect(events.slice(0, 3)).toEqual([
      { Untagged: 'app:1' },
      { Untagged: 'other:1' },
      { Deleted: img.config.digest },
    ]);
    expect(await store.listImages()).toEqual([]);
  });

  it('rmi by ID of an image with one tag deletes it without force', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1', { repoDigest: img.manifest.digest });
    const events = await store.remove(img.config.digest);
    expect(events.slice(0, 3)).toEqual([
      { Untagged: 'app:1' },
      { Untagged: `app@${img.manifest.digest}` },
      { Deleted: img.config.digest },
    ]);
  });

  it('rmi keeps blobs another image shares', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const a = putTestImage(mem, { tag: 'a', layers: ['shared', 'only a'] });
    const b = putTestImage(mem, { tag: 'b', layers: ['shared', 'only b'] });
    await pull(store, mem, 'a', 'a:1');
    await pull(store, mem, 'b', 'b:1');
    await store.remove('a:1');
    expect(await store.blobs.has(a.layers[0]!.digest)).toBe(true);
    expect(await store.blobs.has(a.layers[1]!.digest)).toBe(false);
    expect(await store.blobs.has(b.layers[1]!.digest)).toBe(true);
    expect((await store.fsck()).ok).toBe(true);
  });

  it('rmi of an unknown image is IMAGE_UNKNOWN and writes nothing', async () => {
    const store = await openStore();
    const before = await snapshotDir(store.root);
    await expect(store.remove('ghost:1')).rejects.toMatchObject({ code: 'IMAGE_UNKNOWN' });
    expect(await snapshotDir(store.root)).toEqual(before);
  });
});

describe('listing filters', () => {
  async function threeImages() {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const old = putTestImage(mem, { tag: 'o', layers: ['o'], created: '2023-01-01T00:00:00Z', labels: { tier: 'db' } });
    const mid = putTestImage(mem, {
      tag: 'm',
      layers: ['m'],
      created: '2024-01-01T00:00:00Z',
      labels: { tier: 'web', team: 'a' },
    });
    const neu = putTestImage(mem, { tag: 'n', layers: ['n'], created: '2025-01-01T00:00:00Z' });
    await pull(store, mem, 'o', 'postgres:15');
    await pull(store, mem, 'm', 'team/web:1');
    await pull(store, mem, 'n', 'alpine:3.20');
    return { store, old, mid, neu };
  }

  it('sorts newest first', async () => {
    const { store } = await threeImages();
    expect((await store.listImages()).map((r) => r.repository)).toEqual(['alpine', 'team/web', 'postgres']);
  });

  it('before= and since= compare creation times with the named image', async () => {
    const { store, old } = await threeImages();
    expect((await store.listImages({ filters: { before: 'team/web:1' } })).map((r) => r.repository)).toEqual([
      'postgres',
    ]);
    expect(
      (await store.listImages({ filters: { since: old.config.digest.slice(7, 19) } })).map((r) => r.repository),
    ).toEqual(['alpine', 'team/web']);
    await expect(store.listImages({ filters: { before: 'ghost' } })).rejects.toMatchObject({ code: 'IMAGE_UNKNOWN' });
  });

  it('reference= globs over familiar names as docker does', async () => {
    const { store } = await threeImages();
    const q = async (reference: string | string[]) =>
      (await store.listImages({ filters: { reference } })).map((r) => r.repository);
    expect(await q('alpine')).toEqual(['alpine']);
    expect(await q('alp*')).toEqual(['alpine']);
    expect(await q('*:3.*')).toEqual(['alpine']);
    expect(await q('*')).toEqual(['alpine', 'postgres']);
    expect(await q('team/*')).toEqual(['team/web']);
    expect(await q(['postgres', 'team/web:1'])).toEqual(['team/web', 'postgres']);
    expect(await q('nothing*')).toEqual([]);
  });

  it('label= matches a key or key=value, all of them', async () => {
    const { store } = await threeImages();
    const q = async (label: string | string[]) =>
      (await store.listImages({ filters: { label } })).map((r) => r.repository);
    expect(await q('tier')).toEqual(['team/web', 'postgres']);
    expect(await q('tier=db')).toEqual(['postgres']);
    expect(await q(['tier=web', 'team=a'])).toEqual(['team/web']);
    expect(await q(['tier=web', 'team=b'])).toEqual([]);
    expect((await store.listImages())[1]!.labels).toEqual({ tier: 'web', team: 'a' });
  });
});

describe('prune, gc, fsck', () => {
  it('prune removes dangling images only; prune --all removes every image', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const v1 = putTestImage(mem, { tag: 'v1', layers: ['v1'] });
    const v2 = putTestImage(mem, { tag: 'v2', layers: ['v2'] });
    await pull(store, mem, 'v1', 'app');
    await pull(store, mem, 'v2', 'app');
    const r = await store.prune();
    expect(r.deleted.map((e) => ('Deleted' in e ? e.Deleted : e.Untagged)).sort()).toEqual(
      [v1.config.digest, v1.manifest.digest, v1.layers[0]!.digest].sort(),
    );
    expect(r.deleted[0]).toEqual({ Deleted: v1.config.digest });
    expect(r.reclaimedBytes).toBe(v1.config.size + v1.layers[0]!.size + v1.manifest.size);
    expect((await store.listImages()).map((x) => x.imageId)).toEqual([v2.config.digest]);
    const again = await store.prune();
    expect(again).toEqual({ deleted: [], reclaimedBytes: 0 });
    const all = await store.prune({ all: true });
    expect(all.deleted.slice(0, 2)).toEqual([{ Untagged: 'app:latest' }, { Deleted: v2.config.digest }]);
    expect(await store.listImages()).toEqual([]);
    expect((await store.df()).blobs).toEqual({ count: 0, bytes: 0 });
  });

  it('prune filters: until= keeps newer images, label= and label!= select by labels', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const old = putTestImage(mem, { tag: 'o', layers: ['o'], created: '2020-01-01T00:00:00Z', labels: { keep: 'no' } });
    const mid = putTestImage(mem, {
      tag: 'm',
      layers: ['m'],
      created: '2022-01-01T00:00:00Z',
      labels: { keep: 'yes' },
    });
    const neu = putTestImage(mem, { tag: 'n', layers: ['n'], created: '2025-01-01T00:00:00Z' });
    for (const t of ['o', 'm', 'n']) await pull(store, mem, t, `img-${t}:1`);
    const deletedIds = (r: { deleted: readonly object[] }) =>
      r.deleted.flatMap((e) => ('Deleted' in e && String(e.Deleted) !== '' ? [String(e.Deleted)] : []));
    const r1 = await store.prune({
      all: true,
      filters: { until: new Date('2023-01-01T00:00:00Z'), label: 'keep!=yes' },
    });
    expect(deletedIds(r1)).toContain(old.config.digest);
    expect(deletedIds(r1)).not.toContain(mid.config.digest);
    expect((await store.listImages()).map((r) => r.imageId)).toEqual([neu.config.digest, mid.config.digest]);
    const r2 = await store.prune({ all: true, filters: { label: '!keep' } });
    expect(deletedIds(r2)).toContain(neu.config.digest);
    expect((await store.listImages()).map((r) => r.imageId)).toEqual([mid.config.digest]);
    expect((await store.prune({ all: true, filters: { label: 'keep=no' } })).deleted).toEqual([]);
  });

  it('gc removes unreferenced blobs and abandoned temp files but keeps referenced ones', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['keep'] });
    await pull(store, mem, 'a', 'app:1');
    const orphan = new TextEncoder().encode('orphan');
    await store.blobs.ingest({ digest: hash(orphan) as Digest }, streamOf(orphan));
    await writeFile(join(store.blobs.ingestDir, '999999999-deadbeef-abc.tmp'), 'partial');
    const report = await store.gc();
    expect(report.removedBlobs).toEqual([{ digest: hash(orphan), size: orphan.byteLength }]);
    expect(report.removedFiles).toEqual([join(store.blobs.ingestDir, '999999999-deadbeef-abc.tmp')]);
    expect(report.reclaimedBytes).toBe(orphan.byteLength + 'partial'.length);
    expect(await store.blobs.has(img.layers[0]!.digest)).toBe(true);
    expect((await store.fsck()).ok).toBe(true);
  });

  it('gc spares blobs of a writer in progress (lease) until it commits or dies', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['in flight'] });
    const sink = store.sink('app:1');
    const layer = img.layers[0]!;
    await sink.writeBlob(layer, streamOf(mem.getBlob(layer.digest)!));
    const report = await store.gc();
    expect(report.removedBlobs).toEqual([]);
    expect(report.keptForWriters).toBe(1);
    await sink.close!();
    expect((await store.gc()).removedBlobs.map((b) => b.digest)).toEqual([layer.digest]);
  });

  it('fsck finds corrupt, missing and orphaned blobs and garbage', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['one', 'two'] });
    await pull(store, mem, 'a', 'app:1');
    let report = await store.fsck();
    expect(report).toMatchObject({ ok: true, corrupt: [], missing: [], orphans: [], garbage: [], blobsChecked: 4 });
    await writeFile(store.blobs.blobPath(img.layers[0]!.digest), 'tampered');
    await store.blobs.delete(img.layers[1]!.digest);
    const orphan = new TextEncoder().encode('orphan');
    await store.blobs.ingest({ digest: hash(orphan) as Digest }, streamOf(orphan));
    await writeFile(join(store.blobs.ingestDir, '999999999-x.tmp'), 'partial');
    report = await store.fsck();
    expect(report.ok).toBe(false);
    expect(report.corrupt).toEqual([
      { digest: img.layers[0]!.digest, path: store.blobs.blobPath(img.layers[0]!.digest), actual: hash('tampered') },
    ]);
    expect(report.missing).toEqual([{ digest: img.layers[1]!.digest, neededBy: 'app:1' }]);
    expect(report.orphans).toEqual([{ digest: hash(orphan), size: orphan.byteLength }]);
    expect(report.garbage).toEqual([
      { path: join(store.blobs.ingestDir, '999999999-x.tmp'), size: 7, reason: 'ingest-temp' },
    ]);
  });

  it('fsck reports a lock left by a dead process as garbage, and the next writer breaks it', async () => {
    const store = await openStore();
    const { hostname } = await import('node:os');
    await writeFile(
      join(store.root, 'index.json.lock'),
      JSON.stringify({ pid: 999_999_999, host: hostname(), since: '2020-01-01T00:00:00Z', token: 'x' }),
    );
    const report = await store.fsck();
    expect(report.ok).toBe(true);
    expect(report.garbage).toEqual([{ path: join(store.root, 'index.json.lock'), size: 0, reason: 'stale-lock' }]);
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    expect((await store.fsck()).garbage).toEqual([]);
  });

  it('a re-pull re-copies the layers of a manifest left behind without them', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    // As if an interrupted delete removed the layer but not the manifest.
    await store.blobs.delete(img.layers[0]!.digest);
    await store.untag('app:1');
    await store.prune();
    const sink = store.sink('app:2');
    expect(await sink.hasManifest!(img.manifest)).toBe(false);
    await copy(mem.source('a'), sink);
    expect(await store.blobs.has(img.layers[0]!.digest)).toBe(true);
    expect((await store.fsck()).ok).toBe(true);
  });

  it('fsck --repair deletes corrupt blobs so that a re-pull fetches them again', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['one'] });
    await pull(store, mem, 'a', 'app:1');
    await writeFile(store.blobs.blobPath(img.layers[0]!.digest), 'bit rot');
    const report = await store.fsck({ repair: true });
    expect(report.ok).toBe(false);
    expect(report.repaired).toEqual([img.layers[0]!.digest]);
    expect(await store.blobs.has(img.layers[0]!.digest)).toBe(false);
    await pull(store, mem, 'a', 'app:1');
    expect(await store.fsck()).toMatchObject({ ok: true, corrupt: [], missing: [] });
  });

  it('gc deletes no blob while a named image has a missing manifest, and says why', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const a = putTestImage(mem, { tag: 'a', layers: ['a layer'] });
    putTestImage(mem, { tag: 'b', layers: ['b layer'] });
    await pull(store, mem, 'a', 'a:1');
    await pull(store, mem, 'b', 'b:1');
    const orphan = new TextEncoder().encode('orphan');
    await store.blobs.ingest({ digest: hash(orphan) as Digest }, streamOf(orphan));
    await store.blobs.delete(a.manifest.digest);
    const report = await store.gc();
    expect(report.removedBlobs).toEqual([]);
    expect(report.sweepSkipped).toContain('a:1');
    expect(await store.blobs.has(a.layers[0]!.digest)).toBe(true);
    // rmi of the other image keeps its blobs too, for the same reason; removing the broken one unblocks GC.
    await store.remove('b:1');
    await store.remove('a:1');
    const after = await store.gc();
    expect(after.sweepSkipped).toBeUndefined();
    expect(after.removedBlobs.map((b) => b.digest)).toContain(a.layers[0]!.digest);
    expect(await store.fsck()).toMatchObject({ ok: true, orphans: [] });
  });

  it('fsck reports an unreadable index.json instead of throwing', async () => {
    const store = await openStore();
    await writeFile(join(store.root, 'index.json'), '{');
    const report = await store.fsck();
    expect(report.ok).toBe(false);
    expect(report.layoutError).toMatch(/index.json is not JSON/);
  });
});

describe('inspect, history, df', () => {
  it("inspect has docker's shape", async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, {
      tag: 'a',
      layers: ['one', 'two'],
      created: '2024-05-06T07:08:09Z',
      author: 'someone',
      labels: { a: 'b' },
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
    });
    await pull(store, mem, 'a', 'app:1', { repoDigest: img.manifest.digest });
    const i = await store.inspect('app:1');
    expect(i).toMatchObject({
      Id: img.config.digest,
      RepoTags: ['app:1'],
      RepoDigests: [`app@${img.manifest.digest}`],
      Parent: '',
      Comment: '',
      Created: '2024-05-06T07:08:09Z',
      Author: 'someone',
      Architecture: 'arm64',
      Variant: 'v8',
      Os: 'linux',
      Size: img.config.size + img.layers[0]!.size + img.layers[1]!.size,
      Config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], Labels: { a: 'b' } },
      RootFS: { Type: 'layers', Layers: [img.layers[0]!.digest, img.layers[1]!.digest] },
      Descriptor: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: img.manifest.digest,
        size: img.manifest.size,
      },
    });
    expect(Date.parse(i.Metadata.LastTagTime)).toBeGreaterThan(Date.now() - 60_000);
    await expect(store.inspect('ghost')).rejects.toMatchObject({ code: 'IMAGE_UNKNOWN' });
  });

  it('history lists steps newest first, <missing> below the top, empty layers sized 0', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, {
      tag: 'a',
      layers: ['base', 'app'],
      history: [
        { created: '2024-01-01T00:00:00Z', created_by: 'ADD rootfs /' },
        { created: '2024-01-02T00:00:00Z', created_by: 'ENV A=1', empty_layer: true },
        { created: '2024-01-03T00:00:00Z', created_by: 'COPY app /app', comment: 'buildkit' },
      ],
    });
    await pull(store, mem, 'a', 'app:1');
    const h = await store.history('app:1');
    expect(h).toEqual([
      {
        id: img.config.digest,
        created: '2024-01-03T00:00:00Z',
        createdBy: 'COPY app /app',
        size: img.layers[1]!.size,
        comment: 'buildkit',
        emptyLayer: false,
        tags: ['app:1'],
      },
      {
        id: '<missing>',
        created: '2024-01-02T00:00:00Z',
        createdBy: 'ENV A=1',
        size: 0,
        comment: '',
        emptyLayer: true,
        tags: [],
      },
      {
        id: '<missing>',
        created: '2024-01-01T00:00:00Z',
        createdBy: 'ADD rootfs /',
        size: img.layers[0]!.size,
        comment: '',
        emptyLayer: false,
        tags: [],
      },
    ]);
  });

  it('history without recorded steps shows one row per layer', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['one', 'two'], history: [] });
    await pull(store, mem, 'a', 'app:1');
    expect((await store.history('app:1')).map((h) => [h.id, h.size])).toEqual([
      [img.config.digest, img.layers[1]!.size],
      ['<missing>', img.layers[0]!.size],
    ]);
  });

  it('df counts shared blobs once and reports garbage', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const a = putTestImage(mem, { tag: 'a', layers: ['shared', 'only a'] });
    const b = putTestImage(mem, { tag: 'b', layers: ['shared', 'only b'] });
    await pull(store, mem, 'a', 'a:1');
    await pull(store, mem, 'b', 'b:1');
    const df = await store.df();
    const shared = a.layers[0]!.size;
    const total =
      a.manifest.size +
      a.config.size +
      shared +
      a.layers[1]!.size +
      b.manifest.size +
      b.config.size +
      b.layers[1]!.size;
    expect(df.images).toEqual({ total: 2, active: 0, size: total, reclaimable: total });
    const rowA = df.rows.find((r) => r.repository === 'a')!;
    expect(rowA).toMatchObject({
      sharedSize: shared,
      uniqueSize: a.manifest.size + a.config.size + a.layers[1]!.size,
      containers: 0,
    });
    expect(df.garbage).toEqual({ blobs: 0, bytes: 0 });
    expect(df.blobs.count).toBe(7);
  });
});

describe('store as a source', () => {
  it('copies an image out of the store byte for byte', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x', 'y'] });
    await pull(store, mem, 'a', 'app:1');
    const out = new MemoryImageStore();
    const r = await copy(store.source('app:1'), out.sink('copied'));
    expect(r.root.digest).toBe(img.manifest.digest);
    expect(out.getBlob(img.layers[1]!.digest)).toEqual(mem.getBlob(img.layers[1]!.digest));
    const byId = await copy(store.source(img.config.digest.slice(7, 19)), new MemoryImageStore().sink('x'));
    expect(byId.root.digest).toBe(img.manifest.digest);
  });

  it('opens a blob at an offset (resuming a transfer)', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['0123456789'] });
    await pull(store, mem, 'a', 'app:1');
    const src = store.source('app:1');
    const rest = await new Response(await src.openBlob(img.layers[0]!, { offset: 4 })).text();
    expect(rest).toBe('456789');
  });

  it('reading an image whose blobs were deleted behind its back fails with BLOB_UNKNOWN', async () => {
    const store = await openStore();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['x'] });
    await pull(store, mem, 'a', 'app:1');
    await store.blobs.delete(img.config.digest);
    const fresh = await ImageStore.open(store.root);
    await expect(fresh.inspect('app:1')).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    expect((await fresh.fsck()).missing).toEqual([{ digest: img.config.digest, neededBy: 'app:1' }]);
  });

  it('an unknown image fails resolve() with IMAGE_UNKNOWN', async () => {
    const store = await openStore();
    await expect(store.source('ghost').resolve()).rejects.toMatchObject({ code: 'IMAGE_UNKNOWN' });
  });
});
