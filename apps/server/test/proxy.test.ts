import { join } from 'node:path';
import { type PeerRegistry, peerFixtures, peersAvailable, runOk, startRegistry, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, FilesystemDriver, PullThroughCache, type RunningServer, serve } from '../src/index.js';
import { call } from './helpers.js';

describe.runIf(peersAvailable('skopeo', 'docker-registry'))(
  'pull-through cache of an authenticated distribution registry',
  () => {
    let upstream: PeerRegistry;
    let server: RunningServer;
    let dir: { path: string; cleanup: () => Promise<void> };
    let layout: string;

    beforeAll(async () => {
      layout = await peerFixtures({ big: 8 });
      upstream = await startRegistry({ auth: 'up:secret' });
      for (const tag of ['multi', 'big']) {
        await runOk('skopeo', [
          'copy',
          '-q',
          '--all',
          '--dest-tls-verify=false',
          '--dest-creds',
          'up:secret',
          `oci:${layout}:${tag}`,
          `docker://${upstream.host}/fixtures/${tag}:latest`,
        ]);
      }
      dir = await tempDir('lade-server-proxy-');
      const proxy = new PullThroughCache({ remoteUrl: upstream.url, username: 'up', password: 'secret' });
      server = await serve({
        port: 0,
        registry: createRegistry({ storage: new FilesystemDriver(join(dir.path, 'cache')), proxy }),
      });
    });
    afterAll(async () => {
      await server?.close();
      await upstream?.stop();
      await dir?.cleanup();
    });

    it('serves pulls of content it does not hold from upstream (with upstream credentials), verified', async () => {
      const host = new URL(server.url).host;
      for (const tag of ['multi', 'big']) {
        const raw = await runOk('skopeo', [
          'inspect',
          '--raw',
          '--tls-verify=false',
          `docker://${host}/fixtures/${tag}:latest`,
        ]);
        expect(raw).toBe(await runOk('skopeo', ['inspect', '--raw', `oci:${layout}:${tag}`]));
        await runOk('skopeo', [
          'copy',
          '-q',
          '--all',
          '--src-tls-verify=false',
          `docker://${host}/fixtures/${tag}:latest`,
          `oci:${join(dir.path, 'out')}:${tag}`,
        ]);
      }
    });

    it('keeps serving cached content when the upstream is gone, and refuses pushes', async () => {
      // wait for the background stores of the blobs streamed during the first pull
      await new Promise((r) => setTimeout(r, 500));
      await upstream.stop();
      const host = new URL(server.url).host;
      await runOk('skopeo', [
        'copy',
        '-q',
        '--all',
        '--src-tls-verify=false',
        `docker://${host}/fixtures/big:latest`,
        `oci:${join(dir.path, 'again')}:big`,
      ]);
      const push = await fetch(`${server.url}/v2/fixtures/big/blobs/uploads/`, { method: 'POST' });
      expect(push.status).toBe(405);
      const registry = createRegistry({ storage: new FilesystemDriver(join(dir.path, 'cache')) });
      expect((await call(registry, 'GET', '/v2/fixtures/big/tags/list')).json().tags).toEqual(['latest']);
    });
  },
);
