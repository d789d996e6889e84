// lade's conversion and copy checked against skopeo (containers/image) and a real distribution registry.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type PeerRegistry, peerFixtures, peersAvailable, runOk, startRegistry, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  copy,
  MediaType,
  parseImageIndex,
  parseImageManifest,
  parseManifest,
  toDockerManifest,
  toOciManifest,
} from '../../src/index.js';
import { dirSink, layoutSource, readBlob, readLayoutIndex } from '../layout.js';

describe.runIf(peersAvailable('skopeo', 'umoci', 'jq', 'docker-registry'))(
  'interop with skopeo and docker-registry',
  () => {
    let layout = '';
    let work: { path: string; cleanup: () => Promise<void> };
    let registry: PeerRegistry;

    beforeAll(async () => {
      layout = await peerFixtures({ big: 8 });
      work = await tempDir('lade-manifest-interop-');
      registry = await startRegistry();
    });
    afterAll(async () => {
      await registry?.stop();
      await work?.cleanup();
    });

    const tagDescriptor = async (tag: string) =>
      (await readLayoutIndex(layout)).manifests.find(
        (d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag,
      )!;

    it('converts OCI → Docker v2.2 as skopeo --format v2s2 does (same config, layers and media types)', async () => {
      const out = join(work.path, 'skopeo-v2s2');
      await runOk('skopeo', ['copy', '-q', '--format', 'v2s2', `oci:${layout}:tricky`, `dir:${out}`]);
      const theirs = parseImageManifest(new Uint8Array(await readFile(join(out, 'manifest.json'))));
      const ours = toDockerManifest(
        parseImageManifest(await readBlob(layout, (await tagDescriptor('tricky')).digest), MediaType.OCI_MANIFEST),
      );
      expect(theirs.mediaType).toBe(MediaType.DOCKER_MANIFEST);
      expect(ours.value.config).toEqual(theirs.manifest.config);
      expect(ours.value.layers).toEqual(theirs.manifest.layers);
      // And back: skopeo's Docker manifest converts to the OCI manifest umoci wrote.
      const back = toOciManifest(theirs);
      const original = parseImageManifest(
        await readBlob(layout, (await tagDescriptor('tricky')).digest),
        MediaType.OCI_MANIFEST,
      );
      expect(back.value.config).toEqual(original.manifest.config);
      expect(back.value.layers).toEqual(original.manifest.layers);
    });

    it('writes a Docker manifest list with lade that skopeo reads and a registry accepts with the same digest', async () => {
      const out = join(work.path, 'lade-v2s2-multi');
      const r = await copy(layoutSource(layout, 'multi'), dirSink(out), { all: true, format: 'v2s2' });
      expect(r.root.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST);
      const list = parseImageIndex(new Uint8Array(await readFile(join(out, 'manifest.json'))));
      expect(list.digest).toBe(r.root.digest);
      const inspected = JSON.parse(await runOk('skopeo', ['inspect', '--raw', `dir:${out}`]));
      expect(inspected.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST);
      const dest = `docker://${registry.host}/lade/multi:v2s2`;
      await runOk('skopeo', [
        'copy',
        '-q',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `dir:${out}`,
        dest,
      ]);
      const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', dest]);
      expect(parseManifest(new TextEncoder().encode(raw)).digest).toBe(r.root.digest);
      const arm = JSON.parse(
        await runOk('skopeo', ['inspect', '--tls-verify=false', '--override-arch', 'arm64', dest]),
      );
      expect(arm.Architecture).toBe('arm64');
    });

    it('copies a single platform unchanged: skopeo sees the same digest umoci wrote', async () => {
      const out = join(work.path, 'lade-arm64');
      const r = await copy(layoutSource(layout, 'multi'), dirSink(out), { platform: 'linux/arm64' });
      expect(r.root.digest).toBe((await tagDescriptor('arm64')).digest);
      const digest = (await runOk('skopeo', ['manifest-digest', join(out, 'manifest.json')])).trim();
      expect(digest).toBe(r.root.digest);
      const info = JSON.parse(await runOk('skopeo', ['inspect', `dir:${out}`]));
      expect(info.Architecture).toBe('arm64');
    });
  },
);
