import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copy, MemoryImageStore } from '@lade/manifest';
import { peerFixtures, peersAvailable, runOk, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageStore, ociLayoutSink, ociLayoutSource } from '../../src/index.js';
import { putTestImage, putTestIndex } from '../helpers.js';

describe.runIf(peersAvailable('skopeo', 'umoci'))('interop with skopeo and umoci', () => {
  let fixtures: string;
  const cleanups: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    fixtures = await peerFixtures({ big: 8 });
  }, 900_000);
  afterAll(async () => {
    for (const c of cleanups) await c();
  });
  async function dir(): Promise<string> {
    const t = await tempDir('lade-interop-');
    cleanups.push(t.cleanup);
    return t.path;
  }
  async function skopeoInspect(ref: string): Promise<{ Digest: string; Layers: string[] }> {
    return JSON.parse(await runOk('skopeo', ['inspect', ref]));
  }

  it('lists and inspects what skopeo copied into the store', async () => {
    const root = await dir();
    await ImageStore.open(root);
    await runOk('skopeo', ['copy', '-q', `oci:${fixtures}:tricky`, `oci:${root}:tricky:latest`]);
    const want = await skopeoInspect(`oci:${fixtures}:tricky`);
    const store = await ImageStore.open(root);
    const rows = await store.listImages();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ repository: 'tricky', tag: 'latest', manifestDigest: want.Digest });
    const inspect = await store.inspect('tricky');
    expect(inspect.RepoTags).toEqual(['tricky:latest']);
    expect(inspect.Architecture).toBe('amd64');
    expect(inspect.Author).toBe('lade-fixtures');
    expect(inspect.Config.Labels).toEqual({ 'org.opencontainers.image.title': 'tricky' });
    expect(inspect.RootFS.Layers).toHaveLength(2);
    const history = await store.history('tricky');
    expect(history.map((h) => h.createdBy).filter((c) => c.startsWith('RUN') || c.startsWith('ADD'))).toEqual([
      'RUN rm /etc/remove-me && rm -rf /opaque/old',
      'ADD files /',
    ]);
    expect((await store.fsck()).ok).toBe(true);
  });

  it('reads a skopeo-named entry that is not a docker name via its exact ref.name', async () => {
    const root = await dir();
    await ImageStore.open(root);
    await runOk('skopeo', ['copy', '-q', `oci:${fixtures}:amd64`, `oci:${root}:amd64`]);
    const store = await ImageStore.open(root);
    expect((await store.listImages()).map((r) => `${r.repository}:${r.tag}`)).toEqual(['amd64:latest']);
    expect((await store.resolve('amd64')).matchedBy).toBe('tag');
  });

  it('skopeo inspects what lade wrote into the store with identical digests, by the familiar name', async () => {
    const root = await dir();
    const store = await ImageStore.open(root);
    const src = await ociLayoutSource(fixtures, 'tricky');
    const sink = store.sink('127.0.0.1:5000/fixtures/tricky:1');
    const r = await copy(src, sink);
    const got = await skopeoInspect(`oci:${root}:127.0.0.1:5000/fixtures/tricky:1`);
    const want = await skopeoInspect(`oci:${fixtures}:tricky`);
    expect(got.Digest).toBe(r.root.digest);
    expect(got.Digest).toBe(want.Digest);
    expect(got.Layers).toEqual(want.Layers);
    // Docker Hub names by their familiar form.
    await store.tag('127.0.0.1:5000/fixtures/tricky:1', 'alpine:3.19');
    expect((await skopeoInspect(`oci:${root}:alpine:3.19`)).Digest).toBe(want.Digest);
    // skopeo copies out of the store: byte-identical manifest.
    const out = await dir();
    await runOk('skopeo', ['copy', '-q', `oci:${root}:alpine:3.19`, `oci:${out}:x`]);
    const idx = JSON.parse(await readFile(join(out, 'index.json'), 'utf8'));
    expect(idx.manifests[0].digest).toBe(want.Digest);
  });

  it('copies the multi-platform index in and out with --all, digests preserved', async () => {
    const root = await dir();
    const store = await ImageStore.open(root);
    const r = await copy(await ociLayoutSource(fixtures, 'multi'), store.sink('multi:1'), { all: true });
    const raw = JSON.parse(await runOk('skopeo', ['inspect', '--raw', `oci:${root}:multi:1`]));
    expect(raw.manifests).toHaveLength(2);
    const wantRaw = await runOk('skopeo', ['inspect', '--raw', `oci:${fixtures}:multi`]);
    expect(await runOk('skopeo', ['inspect', '--raw', `oci:${root}:multi:1`])).toBe(wantRaw);
    expect(r.root.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    const out = await dir();
    await runOk('skopeo', ['copy', '-q', '--all', `oci:${root}:multi:1`, `oci:${out}:m`]);
    expect(JSON.parse(await readFile(join(out, 'index.json'), 'utf8')).manifests[0].digest).toBe(r.root.digest);
  });

  it('umoci lists the store and unpacks an image lade wrote', async () => {
    const root = await dir();
    const store = await ImageStore.open(root);
    await copy(await ociLayoutSource(fixtures, 'amd64'), store.sink('app:1'));
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'x', layers: [] });
    await copy(mem.source('x'), store.sink('registry.local:5000/team/empty:2'));
    const ls = (await runOk('umoci', ['ls', '--layout', root])).trim().split('\n').sort();
    expect(ls).toEqual(['app:1', 'registry.local:5000/team/empty:2']);
    const bundle = join(await dir(), 'bundle');
    await runOk('umoci', ['unpack', '--rootless', '--image', `${root}:app:1`, bundle]);
    expect((await readFile(join(bundle, 'rootfs', 'arch'), 'utf8')).trim()).toBe('amd64');
  });

  it('when skopeo moves a name lade wrote to another image, the old image turns dangling', async () => {
    const root = await dir();
    const store = await ImageStore.open(root);
    const first = await copy(await ociLayoutSource(fixtures, 'amd64'), store.sink('app:1'));
    await runOk('skopeo', ['copy', '-q', `oci:${fixtures}:tricky`, `oci:${root}:app:1`]);
    const tricky = await skopeoInspect(`oci:${fixtures}:tricky`);
    const rows = await store.listImages();
    expect(rows.map((r) => [r.repository, r.tag, r.manifestDigest]).sort()).toEqual(
      [
        ['app', '1', tricky.Digest],
        ['<none>', '<none>', first.root.digest],
      ].sort(),
    );
    expect((await store.prune()).deleted.length).toBeGreaterThan(0);
    expect((await store.listImages()).map((r) => r.manifestDigest)).toEqual([tricky.Digest]);
    expect((await store.fsck()).ok).toBe(true);
  });

  it('sees names umoci adds to and removes from the store', async () => {
    const root = await dir();
    const store = await ImageStore.open(root);
    const r = await copy(await ociLayoutSource(fixtures, 'arm64'), store.sink('app:1'), { platform: 'linux/arm64' });
    await runOk('umoci', ['tag', '--image', `${root}:app:1`, 'from-umoci']);
    expect((await store.listImages()).map((x) => `${x.repository}:${x.tag}`).sort()).toEqual([
      'app:1',
      'from-umoci:latest',
    ]);
    expect((await store.resolve('from-umoci')).root.digest).toBe(r.root.digest);
    await runOk('umoci', ['rm', '--image', `${root}:app:1`]);
    expect((await store.listImages()).map((x) => `${x.repository}:${x.tag}`)).toEqual(['from-umoci:latest']);
    expect((await store.inspect('from-umoci')).Architecture).toBe('arm64');
    await runOk('umoci', ['gc', '--layout', root]);
    expect((await store.fsck()).ok).toBe(true);
  });

  it('what ociLayoutSink writes, skopeo and umoci read; what skopeo writes, ociLayoutSource reads', async () => {
    const d = await dir();
    const mem = new MemoryImageStore();
    putTestIndex(mem, 'idx');
    const img = putTestImage(mem, { tag: 'one', layers: ['x'] });
    const sink = await ociLayoutSink(d, 'one');
    await copy(mem.source('one'), sink);
    expect((await skopeoInspect(`oci:${d}:one`)).Digest).toBe(img.manifest.digest);
    expect((await runOk('umoci', ['ls', '--layout', d])).trim()).toBe('one');
    const out = await dir();
    await runOk('skopeo', ['copy', '-q', `oci:${d}:one`, `oci:${out}:back`]);
    // skopeo compresses uncompressed layers for oci: destinations, so the digest is skopeo's own.
    const written = await skopeoInspect(`oci:${out}:back`);
    const back = await ociLayoutSource(out, 'back');
    expect((await back.resolve()).digest).toBe(written.Digest);
    const copied = new MemoryImageStore();
    await copy(back, copied.sink('c'));
    expect(copied.getBlob(written.Layers[0]!)).toBeDefined();
  });
});
