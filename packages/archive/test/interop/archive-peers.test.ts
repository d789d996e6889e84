import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copy, MemoryImageStore } from '@lade/manifest';
import { peerFixtures, peersAvailable, runOk, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openArchive, saveImages } from '../../src/index.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let layout: string;

/** The image ID (config digest) skopeo sees for an image. */
async function skopeoImageId(ref: string): Promise<string> {
  const raw = JSON.parse(await runOk('skopeo', ['inspect', '--raw', ref]));
  return raw.config.digest;
}

async function skopeoDiffIds(ref: string): Promise<string[]> {
  const cfg = JSON.parse(await runOk('skopeo', ['inspect', '--config', '--raw', ref]));
  return cfg.rootfs.diff_ids;
}

describe.runIf(peersAvailable('skopeo', 'umoci'))('docker-archive and oci-archive against skopeo and umoci', () => {
  beforeAll(async () => {
    tmp = await tempDir('lade-archive-peers-');
    layout = await peerFixtures({ big: 8 });
  });
  afterAll(() => tmp?.cleanup());

  for (const tag of ['tricky', 'big']) {
    it(`reads what skopeo writes as docker-archive (${tag}) with the same image ID and diff_ids`, async () => {
      const file = join(tmp.path, `skopeo-${tag}.tar`);
      await runOk('skopeo', ['copy', '-q', `oci:${layout}:${tag}`, `docker-archive:${file}:fixtures/${tag}:latest`]);
      const archive = await openArchive(file);
      expect(archive.images).toHaveLength(1);
      expect(archive.images[0]!.id).toBe(await skopeoImageId(`oci:${layout}:${tag}`));
      expect(archive.images[0]!.names).toEqual([`fixtures/${tag}:latest`]);
      const store = new MemoryImageStore();
      await copy(archive.source(), store.sink('x:1'));
      for (const d of await skopeoDiffIds(`oci:${layout}:${tag}`)) expect(store.blobs.has(d as never)).toBe(true);
      await archive.close();
    });
  }

  it('saves a docker-archive skopeo reads with the same image ID, and copies to OCI as it copies its own', async () => {
    const fromSkopeo = join(tmp.path, 'tricky-src.tar');
    await runOk('skopeo', ['copy', '-q', `oci:${layout}:tricky`, `oci-archive:${fromSkopeo}:tricky`]);
    const src = await openArchive(fromSkopeo);
    expect(src.format).toBe('oci');
    const mine = join(tmp.path, 'lade-saved.tar');
    await saveImages([{ source: src.source(), names: ['fixtures/tricky:latest'] }], mine);
    const original = await skopeoImageId(`oci:${layout}:tricky`);
    expect(await skopeoImageId(`docker-archive:${mine}`)).toBe(original);
    expect(await skopeoImageId(`docker-archive:${mine}:fixtures/tricky:latest`)).toBe(original);
    expect(await skopeoDiffIds(`docker-archive:${mine}`)).toEqual(await skopeoDiffIds(`oci:${layout}:tricky`));
    // skopeo re-serializes the config when it converts a docker-archive to OCI; it must do the same to lade's archive as to its own.
    const theirs = join(tmp.path, 'skopeo-saved.tar');
    await runOk('skopeo', ['copy', '-q', `oci:${layout}:tricky`, `docker-archive:${theirs}:fixtures/tricky:latest`]);
    await runOk('skopeo', ['copy', '-q', `docker-archive:${mine}`, `oci:${join(tmp.path, 'via-lade')}:t`]);
    await runOk('skopeo', ['copy', '-q', `docker-archive:${theirs}`, `oci:${join(tmp.path, 'via-skopeo')}:t`]);
    expect(await skopeoImageId(`oci:${join(tmp.path, 'via-lade')}:t`)).toBe(
      await skopeoImageId(`oci:${join(tmp.path, 'via-skopeo')}:t`),
    );
    await src.close();
  });

  it('saves a legacy docker-archive skopeo reads with the same image ID and diff_ids', async () => {
    const fromSkopeo = join(tmp.path, 'tricky-src2.tar');
    await runOk('skopeo', ['copy', '-q', `oci:${layout}:tricky`, `oci-archive:${fromSkopeo}:tricky`]);
    const src = await openArchive(fromSkopeo);
    const mine = join(tmp.path, 'lade-legacy.tar');
    await saveImages([{ source: src.source(), names: ['tricky:1'] }], mine, { format: 'docker-legacy' });
    expect(await skopeoImageId(`docker-archive:${mine}`)).toBe(await skopeoImageId(`oci:${layout}:tricky`));
    expect(await skopeoDiffIds(`docker-archive:${mine}`)).toEqual(await skopeoDiffIds(`oci:${layout}:tricky`));
    await src.close();
  });

  it('reads an oci-archive skopeo wrote, and skopeo reads the oci-archive lade wrote, with identical digests', async () => {
    const fromSkopeo = join(tmp.path, 'amd64.oci.tar');
    await runOk('skopeo', ['copy', '-q', `oci:${layout}:amd64`, `oci-archive:${fromSkopeo}:amd64`]);
    const src = await openArchive(fromSkopeo);
    expect(src.images[0]!.names).toEqual(['amd64']);
    const mine = join(tmp.path, 'lade.oci.tar');
    await saveImages([{ source: src.source('amd64'), names: ['amd64'] }], mine, { format: 'oci' });
    const raw = await runOk('skopeo', ['inspect', '--raw', `oci-archive:${mine}:amd64`]);
    const original = await runOk('skopeo', ['inspect', '--raw', `oci:${layout}:amd64`]);
    expect(raw).toBe(original);
    await src.close();
  });

  it('keeps a multi-platform index in an oci-archive and narrows it to one platform for a docker-archive', async () => {
    const fromSkopeo = join(tmp.path, 'multi.oci.tar');
    await runOk('skopeo', ['copy', '-q', '--all', `oci:${layout}:multi`, `oci-archive:${fromSkopeo}:multi`]);
    const src = await openArchive(fromSkopeo);
    const oci = join(tmp.path, 'multi-lade.oci.tar');
    await saveImages([{ source: src.source('multi'), names: ['multi'] }], oci, { format: 'oci', copy: { all: true } });
    expect(await runOk('skopeo', ['inspect', '--raw', `oci-archive:${oci}:multi`])).toBe(
      await runOk('skopeo', ['inspect', '--raw', `oci:${layout}:multi`]),
    );
    const docker = join(tmp.path, 'multi-arm64.tar');
    await saveImages([{ source: src.source('multi'), names: ['multi:arm64'] }], docker, {
      copy: { platform: 'linux/arm64' },
    });
    expect(await skopeoImageId(`docker-archive:${docker}`)).toBe(await skopeoImageId(`oci:${layout}:arm64`));
    await expect(
      saveImages([{ source: src.source('multi'), names: ['multi:all'] }], join(tmp.path, 'no.tar'), {
        copy: { all: true },
      }),
    ).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    await src.close();
  });

  it('umoci unpacks the oci-archive lade wrote, after untar', async () => {
    const fromSkopeo = join(tmp.path, 'tricky.oci.tar');
    await runOk('skopeo', ['copy', '-q', `oci:${layout}:tricky`, `oci-archive:${fromSkopeo}:tricky`]);
    const src = await openArchive(fromSkopeo);
    const mine = join(tmp.path, 'tricky-lade.oci.tar');
    await saveImages([{ source: src.source(), names: ['tricky'] }], mine, { format: 'oci' });
    const dir = join(tmp.path, 'umoci-layout');
    await mkdir(dir);
    await runOk('tar', ['-xf', mine, '-C', dir]);
    expect(await runOk('umoci', ['ls', '--layout', dir])).toBe('tricky\n');
    const bundle = join(tmp.path, 'umoci-bundle');
    await runOk('umoci', ['unpack', '--image', `${dir}:tricky`, bundle]);
    expect(await readFile(join(bundle, 'rootfs/etc/hello.txt'), 'utf8')).toBe('hello\n');
    expect((await readdir(join(bundle, 'rootfs/opaque'))).sort()).toEqual(['new']);
    await src.close();
  });
});
