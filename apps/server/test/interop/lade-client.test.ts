import { copy } from '@lade/manifest';
import { registrySink, registrySource } from '@lade/registry-client';
import {
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  runOk,
  startRegistry,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, MemoryDriver, type RunningServer, serve } from '../../src/index.js';

async function rawDigest(ref: string): Promise<string> {
  const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]);
  return `sha256:${(await import('node:crypto')).createHash('sha256').update(raw).digest('hex')}`;
}

describe.runIf(peersAvailable('skopeo', 'docker-registry'))("lade's own registry client against lade-server", () => {
  let server: RunningServer;
  let peer: PeerRegistry;
  let host: string;

  beforeAll(async () => {
    const layout = await peerFixtures({ big: 8 });
    peer = await startRegistry();
    await pushPeerFixtures(layout, peer.host, ['multi', 'big']);
    server = await serve({ registry: createRegistry({ storage: new MemoryDriver() }), port: 0 });
    host = new URL(server.url).host;
  });
  afterAll(async () => {
    await server?.close();
    await peer?.stop();
  });

  it('copies multi (all platforms) and big from the distribution registry into lade-server and back out, digests equal', async () => {
    for (const tag of ['multi', 'big']) {
      const source = registrySource(`${peer.host}/fixtures/${tag}:latest`);
      const sink = registrySink(`${host}/client/${tag}:v1`);
      try {
        await copy(source, sink, { all: true });
      } finally {
        await source.close?.();
        await sink.close?.();
      }
      expect(await rawDigest(`docker://${host}/client/${tag}:v1`)).toBe(
        await rawDigest(`docker://${peer.host}/fixtures/${tag}:latest`),
      );
      const back = registrySource(`${host}/client/${tag}:v1`);
      const out = registrySink(`${peer.host}/roundtrip/${tag}:v1`);
      try {
        await copy(back, out, { all: true });
      } finally {
        await back.close?.();
        await out.close?.();
      }
      expect(await rawDigest(`docker://${peer.host}/roundtrip/${tag}:v1`)).toBe(
        await rawDigest(`docker://${peer.host}/fixtures/${tag}:latest`),
      );
    }
  });
});
