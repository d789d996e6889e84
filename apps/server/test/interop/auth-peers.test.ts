import { peerFixtures, peersAvailable, run, runOk, tempDir } from '@lade/test-support';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  basicAuth,
  createRegistry,
  MemoryDriver,
  parseHtpasswd,
  type RunningServer,
  serve,
  tokenAuth,
} from '../../src/index.js';

const users = parseHtpasswd(`alice:${bcrypt.hashSync('wonderland', 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`);

describe.runIf(peersAvailable('skopeo'))('skopeo against lade-server with authentication', () => {
  let layout: string;
  let token: RunningServer;
  let basic: RunningServer;
  let dir: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    layout = await peerFixtures({ big: 8 });
    dir = await tempDir();
    token = await serve({
      port: 0,
      registry: createRegistry({
        storage: new MemoryDriver(),
        auth: tokenAuth({
          service: 'lade',
          issuer: 'lade',
          key: { algorithm: 'HS256', secret: 'interop-secret' },
          users,
          policy: [
            { accounts: ['alice'], repositories: ['alice/**'], actions: ['*'] },
            { accounts: ['bob'], repositories: ['bob/**'], actions: ['*'] },
          ],
        }),
      }),
    });
    basic = await serve({
      port: 0,
      registry: createRegistry({ storage: new MemoryDriver(), auth: basicAuth({ realm: 'lade', users }) }),
    });
  });
  afterAll(async () => {
    await token?.close();
    await basic?.close();
    await dir?.cleanup();
  });

  const host = (s: RunningServer) => new URL(s.url).host;

  it('pushes and pulls through the bearer-token flow with --creds', async () => {
    await runOk('skopeo', [
      'copy',
      '-q',
      '--all',
      '--dest-tls-verify=false',
      '--dest-creds',
      'alice:wonderland',
      `oci:${layout}:multi`,
      `docker://${host(token)}/alice/multi:v1`,
    ]);
    const raw = await runOk('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      'alice:wonderland',
      `docker://${host(token)}/alice/multi:v1`,
    ]);
    expect(JSON.parse(raw).manifests).toHaveLength(2);
  });

  it("refuses an anonymous push and a push into another account's repository", async () => {
    const anon = await run('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `oci:${layout}:tricky`,
      `docker://${host(token)}/alice/anon:v1`,
    ]);
    expect(anon.code).not.toBe(0);
    expect(anon.stderr).toMatch(/unauthorized|authentication required|denied/i);
    const other = await run('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      '--dest-creds',
      'bob:builder',
      `oci:${layout}:tricky`,
      `docker://${host(token)}/alice/bobs:v1`,
    ]);
    expect(other.code).not.toBe(0);
    const read = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      'bob:builder',
      `docker://${host(token)}/alice/multi:v1`,
    ]);
    expect(read.code).not.toBe(0);
  });

  it('works with htpasswd basic auth', async () => {
    await runOk('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      '--dest-creds',
      'bob:builder',
      `oci:${layout}:tricky`,
      `docker://${host(basic)}/any/tricky:v1`,
    ]);
    const wrong = await run('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      'bob:wrong',
      `docker://${host(basic)}/any/tricky:v1`,
    ]);
    expect(wrong.code).not.toBe(0);
  });
});
