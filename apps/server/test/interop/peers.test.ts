import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  runOk,
  startRegistry,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, FilesystemDriver, type RunningServer, serve } from '../../src/index.js';

const TAGS = ['tricky', 'amd64', 'arm64', 'big', 'multi'];

async function layoutDigest(layout: string, tag: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const m = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!m) throw new Error(`tag ${tag} not in ${layout}`);
  return m.digest;
}

async function remoteDigest(ref: string): Promise<string> {
  const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]);
  return `sha256:${(await import('node:crypto')).createHash('sha256').update(raw).digest('hex')}`;
}

describe.runIf(peersAvailable('skopeo', 'docker-registry', 'docker'))(
  'interop with skopeo, the distribution registry and the docker CLI',
  () => {
    let server: RunningServer;
    let host: string;
    let layout: string;
    let dir: { path: string; cleanup: () => Promise<void> };
    let peer: PeerRegistry;

    beforeAll(async () => {
      layout = await peerFixtures({ big: 8 });
      dir = await tempDir('lade-server-interop-');
      server = await serve({
        registry: createRegistry({ storage: new FilesystemDriver(join(dir.path, 'storage')) }),
        port: 0,
      });
      host = new URL(server.url).host;
      peer = await startRegistry();
    });
    afterAll(async () => {
      await server?.close();
      await peer?.stop();
      await dir?.cleanup();
    });

    it('accepts every fixture pushed by skopeo and serves the exact manifest bytes back', async () => {
      await pushPeerFixtures(layout, host, TAGS);
      for (const tag of TAGS)
        expect(await remoteDigest(`docker://${host}/fixtures/${tag}:latest`), tag).toBe(
          await layoutDigest(layout, tag),
        );
    });

    it('gives every fixture back to skopeo (copy out to an OCI layout) with identical digests', async () => {
      const out = join(dir.path, 'out');
      for (const tag of TAGS) {
        await runOk('skopeo', [
          'copy',
          '-q',
          ...(tag === 'multi' ? ['--all'] : []),
          '--src-tls-verify=false',
          `docker://${host}/fixtures/${tag}:latest`,
          `oci:${out}:${tag}`,
        ]);
        expect(await layoutDigest(out, tag), tag).toBe(await layoutDigest(layout, tag));
      }
      // and skopeo's own verification of every blob it read passed (it errors on a digest mismatch)
    });

    it('copies from the distribution registry into lade-server with skopeo (registry to registry)', async () => {
      await pushPeerFixtures(layout, peer.host, ['multi', 'tricky']);
      for (const tag of ['multi', 'tricky']) {
        await runOk('skopeo', [
          'copy',
          '-q',
          '--all',
          '--src-tls-verify=false',
          '--dest-tls-verify=false',
          `docker://${peer.host}/fixtures/${tag}:latest`,
          `docker://${host}/mirror/${tag}:v1`,
        ]);
        expect(await remoteDigest(`docker://${host}/mirror/${tag}:v1`)).toBe(
          await remoteDigest(`docker://${peer.host}/fixtures/${tag}:latest`),
        );
      }
      // and back the other way
      await runOk('skopeo', [
        'copy',
        '-q',
        '--all',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${host}/mirror/multi:v1`,
        `docker://${peer.host}/back/multi:v1`,
      ]);
      expect(await remoteDigest(`docker://${peer.host}/back/multi:v1`)).toBe(await layoutDigest(layout, 'multi'));
    });

    it('is read by `docker manifest inspect --insecure`', async () => {
      const out = await runOk('docker', ['manifest', 'inspect', '--insecure', `${host}/fixtures/multi:latest`], {
        env: { ...process.env, DOCKER_CONFIG: dir.path },
      });
      const index = JSON.parse(out) as { mediaType: string; manifests: { platform: { architecture: string } }[] };
      expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      expect(index.manifests.map((m) => m.platform.architecture).sort()).toEqual(['amd64', 'arm64']);
      const single = JSON.parse(
        await runOk('docker', ['manifest', 'inspect', '--insecure', `${host}/fixtures/tricky:latest`], {
          env: { ...process.env, DOCKER_CONFIG: dir.path },
        }),
      ) as { layers: unknown[] };
      expect(single.layers.length).toBeGreaterThan(0);
    });

    it('lists the pushed repositories and tags to skopeo', async () => {
      const tags = JSON.parse(
        await runOk('skopeo', ['list-tags', '--tls-verify=false', `docker://${host}/fixtures/big`]),
      ) as { Tags: string[] };
      expect(tags.Tags).toEqual(['latest']);
    });
  },
);
