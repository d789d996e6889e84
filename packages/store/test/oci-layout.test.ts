import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copy, MemoryImageStore } from '@lade/manifest';
import { tempDir } from '@lade/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { isValidRefName, OciLayout, ociLayoutSink, ociLayoutSource, REF_NAME_ANNOTATION } from '../src/index.js';
import { putTestImage, snapshotDir } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function dir(): Promise<string> {
  const t = await tempDir('lade-oci-');
  cleanups.push(t.cleanup);
  return t.path;
}

async function toLayout(mem: MemoryImageStore, tag: string, layoutDir: string, ref?: string) {
  const sink = await ociLayoutSink(layoutDir, ref);
  try {
    return await copy(mem.source(tag), sink);
  } finally {
    await sink.close();
  }
}

describe('OciLayout small blobs', () => {
  it('verifies manifests and configs it reads against their descriptors (a tampered config is DIGEST_INVALID)', async () => {
    const d = join(await dir(), 'layout');
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['l1'] });
    await toLayout(mem, 'a', d, 'v1');
    const layout = await OciLayout.open(d);
    expect((await layout.readConfig(img.config)).config.os).toBe('linux');
    expect((await layout.readManifest(img.manifest)).kind).toBe('manifest');
    const path = join(d, 'blobs', 'sha256', img.config.digest.slice(7));
    const bytes = await readFile(path, 'utf8');
    await writeFile(path, bytes.replace('"linux"', '"LINUX"'));
    await expect(layout.readConfig(img.config)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
  });
});

describe('oci: transport', () => {
  it('writes a layout named by ref and reads it back by ref', async () => {
    const d = join(await dir(), 'layout');
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['l1'] });
    await toLayout(mem, 'a', d, 'v1');
    const idx = JSON.parse(await readFile(join(d, 'index.json'), 'utf8'));
    expect(idx.manifests).toEqual([
      {
        mediaType: img.manifest.mediaType,
        digest: img.manifest.digest,
        size: img.manifest.size,
        annotations: { [REF_NAME_ANNOTATION]: 'v1' },
      },
    ]);
    const src = await ociLayoutSource(d, 'v1');
    expect(src.name).toBe(`oci:${d}:v1`);
    expect((await src.resolve()).digest).toBe(img.manifest.digest);
    const out = new MemoryImageStore();
    await copy(src, out.sink('x'));
    expect(out.getBlob(img.layers[0]!.digest)).toEqual(mem.getBlob(img.layers[0]!.digest));
  });

  it('without a ref, reads the only image and refuses a choice among several', async () => {
    const d = await dir();
    const mem = new MemoryImageStore();
    const a = putTestImage(mem, { tag: 'a', layers: ['a'] });
    putTestImage(mem, { tag: 'b', layers: ['b'] });
    await toLayout(mem, 'a', d);
    expect((await (await ociLayoutSource(d)).resolve()).digest).toBe(a.manifest.digest);
    await toLayout(mem, 'b', d, 'b');
    await expect((await ociLayoutSource(d)).resolve()).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
  });

  it('re-using a ref moves the name and keeps the old image unnamed, as skopeo does', async () => {
    const d = await dir();
    const mem = new MemoryImageStore();
    const a = putTestImage(mem, { tag: 'a', layers: ['a'] });
    const b = putTestImage(mem, { tag: 'b', layers: ['b'] });
    await toLayout(mem, 'a', d, 'latest');
    await toLayout(mem, 'b', d, 'latest');
    const idx = JSON.parse(await readFile(join(d, 'index.json'), 'utf8'));
    expect(idx.manifests.map((m: { digest: string; annotations?: object }) => [m.digest, m.annotations])).toEqual([
      [a.manifest.digest, undefined],
      [b.manifest.digest, { [REF_NAME_ANNOTATION]: 'latest' }],
    ]);
  });

  it('an unknown ref is MANIFEST_UNKNOWN; an invalid one NAME_INVALID; a non-layout LAYOUT_INVALID', async () => {
    const d = await dir();
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'a', layers: ['a'] });
    await toLayout(mem, 'a', d, 'v1');
    await expect((await ociLayoutSource(d, 'v2')).resolve()).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
    await expect(ociLayoutSource(d, 'bad ref')).rejects.toMatchObject({ code: 'NAME_INVALID' });
    await expect(ociLayoutSink(d, '-x')).rejects.toMatchObject({ code: 'NAME_INVALID' });
    const empty = await dir();
    await expect(ociLayoutSource(empty)).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
    expect(await snapshotDir(empty)).toEqual({});
    await writeFile(join(empty, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    await expect(OciLayout.open(empty)).rejects.toMatchObject({ code: 'LAYOUT_INVALID' });
  });

  it('a failed copy leaves index.json unchanged', async () => {
    const d = await dir();
    const mem = new MemoryImageStore();
    const img = putTestImage(mem, { tag: 'a', layers: ['good'] });
    await toLayout(mem, 'a', d, 'v1');
    const before = await readFile(join(d, 'index.json'), 'utf8');
    const bad = putTestImage(mem, { tag: 'bad', layers: ['bad layer'] });
    mem.putBlobUnchecked(bad.layers[0]!.digest, new TextEncoder().encode('corrupt'));
    await expect(toLayout(mem, 'bad', d, 'v1')).rejects.toMatchObject({ code: 'SIZE_INVALID' });
    expect(await readFile(join(d, 'index.json'), 'utf8')).toBe(before);
    expect((await (await ociLayoutSource(d, 'v1')).resolve()).digest).toBe(img.manifest.digest);
  });

  it('validates ref names with the OCI annotation grammar skopeo uses', () => {
    for (const ok of [
      'latest',
      'v1.0',
      'alpine:3.19',
      'docker.io/library/alpine:3.19',
      '127.0.0.1:5000/a/b:c',
      'a@sha256:abc',
      'a--b',
    ])
      expect(isValidRefName(ok)).toBe(true);
    for (const bad of ['', ' x', 'a b', '-a', 'a-', 'a//b', 'a/', ':a']) expect(isValidRefName(bad)).toBe(false);
  });

  it('creates the layout directory and its parents when writing', async () => {
    const d = join(await dir(), 'deep', 'er');
    await mkdir(join(d, '..'), { recursive: true });
    const mem = new MemoryImageStore();
    putTestImage(mem, { tag: 'a', layers: ['x'] });
    await toLayout(mem, 'a', d, 'x');
    expect(JSON.parse(await readFile(join(d, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
  });
});
