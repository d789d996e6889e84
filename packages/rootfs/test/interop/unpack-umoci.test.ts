import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ociLayoutSource } from '@lade/store';
import {
  describeTree,
  fixturesDir,
  peerFixtures,
  peersAvailable,
  runOk,
  tempDir,
  treeDifferences,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackImage } from '../../src/index.js';

const ggcr = join(fixturesDir, 'ggcr');

describe.runIf(peersAvailable('umoci', 'skopeo'))('lade unpack gives the tree umoci unpack gives', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let layout: string;
  const images: { name: string; layout: string; ref: string }[] = [];

  beforeAll(async () => {
    work = await tempDir('lade-rootfs-umoci-');
    const peer = await peerFixtures({ big: 8 });
    for (const tag of ['tricky', 'amd64', 'arm64', 'big'])
      images.push({ name: `peer fixture ${tag}`, layout: peer, ref: tag });
    layout = join(work.path, 'ggcr-layout');
    // The docker archives of ../shared/fixtures, as skopeo reads them, into one OCI layout.
    const archives = ['hello-world-v25.tar', 'test_image_1.tar', 'whiteout_image.tar', 'overwritten_file.tar'];
    for (const file of archives) {
      const ref = file.replace(/\.tar$/, '').replace(/[^a-z0-9]+/g, '-');
      await runOk('skopeo', ['copy', '-q', `docker-archive:${join(ggcr, file)}`, `oci:${layout}:${ref}`]);
      images.push({ name: file, layout, ref });
    }
    for (const [i, ref] of ['bundle-a', 'bundle-b'].entries()) {
      await runOk('skopeo', [
        'copy',
        '-q',
        `docker-archive:${join(ggcr, 'test_bundle.tar')}:@${i}`,
        `oci:${layout}:${ref}`,
      ]);
      images.push({ name: `test_bundle.tar image ${i}`, layout, ref });
    }
    // Its manifest is Docker v2.2 under an OCI index, which umoci refuses and skopeo will not convert (it calls
    // the config an artifact): the same config and layer blobs under an OCI manifest, in a layout of their own.
    await ociCopyOfDockerManifest(
      join(ggcr, 'test_index'),
      'sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650',
      join(work.path, 'test-index'),
      'test-index-1',
    );
    images.push({ name: 'test_index image 1', layout: join(work.path, 'test-index'), ref: 'test-index-1' });
  }, 900_000);

  afterAll(async () => {
    await work?.cleanup();
  });

  it('matches on every fixture image: paths, types, modes, owners, sizes, link targets, content, mtimes', async () => {
    expect(images.length).toBeGreaterThanOrEqual(11);
    for (const [i, img] of images.entries()) {
      const ours = join(work.path, `lade-${i}`);
      const theirs = join(work.path, `umoci-${i}`);
      await unpackImage(await ociLayoutSource(img.layout, img.ref), join(ours, 'rootfs'));
      await mkdir(work.path, { recursive: true });
      await runOk('umoci', ['unpack', '--image', `${img.layout}:${img.ref}`, theirs]);
      const diff = treeDifferences(describeTree(join(ours, 'rootfs')), describeTree(join(theirs, 'rootfs')));
      expect(diff, `${img.name}: lade vs umoci`).toEqual([]);
      expect(describeTree(join(ours, 'rootfs')).length, img.name).toBeGreaterThan(0);
    }
  });

  it('matches umoci --rootless for the tricky image (ownership left to the current user)', async () => {
    const peer = await peerFixtures({ big: 8 });
    const ours = join(work.path, 'rootless-lade');
    const theirs = join(work.path, 'rootless-umoci');
    await unpackImage(await ociLayoutSource(peer, 'tricky'), join(ours, 'rootfs'), { rootless: true });
    await runOk('umoci', ['unpack', '--rootless', '--image', `${peer}:tricky`, theirs]);
    const diff = treeDifferences(describeTree(join(ours, 'rootfs')), describeTree(join(theirs, 'rootfs')));
    expect(diff).toEqual([]);
  });
});

async function ociCopyOfDockerManifest(src: string, digest: string, dest: string, ref: string): Promise<void> {
  const blob = (d: string) => join(src, 'blobs', d.replace(':', '/'));
  const m = JSON.parse(await readFile(blob(digest), 'utf8'));
  await mkdir(join(dest, 'blobs', 'sha256'), { recursive: true });
  for (const d of [m.config.digest, ...m.layers.map((l: { digest: string }) => l.digest)])
    await copyFile(blob(d), join(dest, 'blobs', d.replace(':', '/')));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { ...m.config, mediaType: 'application/vnd.oci.image.config.v1+json' },
    layers: m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })),
  });
  const md = createHash('sha256').update(manifest).digest('hex');
  await writeFile(join(dest, 'blobs', 'sha256', md), manifest);
  await writeFile(join(dest, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const entry = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${md}`,
    size: manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': ref },
  };
  await writeFile(join(dest, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }));
}
