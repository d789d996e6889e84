import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { peersAvailable, run, runOk, tempDir } from '@lade/test-support';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessLogEntry,
  createRegistry,
  MemoryDriver,
  parseHtpasswd,
  type Registry,
  type RunningServer,
  serve,
  tokenAuth,
} from '../../src/index.js';
import { pushImage } from '../helpers.js';

const users = parseHtpasswd(`alice:${bcrypt.hashSync('wonderland', 4)}\n`);
const basic = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;

describe.runIf(peersAvailable('docker'))(
  'the docker CLI pulls with an identity token (OAuth2 refresh_token grant)',
  () => {
    let server: RunningServer;
    let registry: Registry;
    let host: string;
    let dir: { path: string; cleanup: () => Promise<void> };
    let digest: string;
    const log: AccessLogEntry[] = [];

    beforeAll(async () => {
      dir = await tempDir('lade-identity-token-');
      registry = createRegistry({
        storage: new MemoryDriver(),
        auth: tokenAuth({
          service: 'lade-docker',
          issuer: 'lade-docker',
          key: { algorithm: 'HS256', secret: 'docker-identity-secret' },
          users,
          policy: [{ accounts: ['alice'], repositories: ['alice/**'], actions: ['*'] }],
        }),
        log: (e) => log.push(e),
      });
      server = await serve({ port: 0, registry });
      host = new URL(server.url).host;
      const t = await registry.fetch(
        new Request(`${server.url}/token?service=lade-docker&scope=repository:alice/app:pull,push`, {
          headers: { Authorization: basic },
        }),
      );
      const { token } = (await t.json()) as { token: string };
      const image = await pushImage(
        {
          ...registry,
          fetch: (req) => {
            const h = new Headers(req.headers);
            h.set('Authorization', `Bearer ${token}`);
            return registry.fetch(new Request(req, { headers: h }));
          },
        },
        'alice/app',
        'v1',
      );
      digest = image.digest;
    });
    afterAll(async () => {
      await server?.close();
      await dir?.cleanup();
    });

    async function dockerConfig(name: string, identitytoken: string): Promise<string> {
      const configDir = join(dir.path, name);
      await runOk('mkdir', ['-p', configDir]);
      await writeFile(join(configDir, 'config.json'), JSON.stringify({ auths: { [host]: { identitytoken } } }));
      return configDir;
    }

    it('a refresh token from GET /token?offline_token=true (as docker login asks) lets docker manifest inspect pull', async () => {
      const res = await fetch(
        `${server.url}/token?account=alice&client_id=docker&offline_token=true&service=lade-docker`,
        { headers: { Authorization: basic } },
      );
      expect(res.status).toBe(200);
      const { refresh_token: refresh } = (await res.json()) as { refresh_token?: string };
      expect(refresh).toBeTruthy();
      log.length = 0;
      const out = await runOk('docker', ['manifest', 'inspect', '--insecure', `${host}/alice/app:v1`], {
        env: { ...process.env, DOCKER_CONFIG: await dockerConfig('good', refresh!) },
      });
      expect(JSON.parse(out)).toMatchObject({ schemaVersion: 2, layers: [expect.anything()] });
      // docker exchanged the identity token at POST /token (the OAuth2 refresh_token grant), not GET with a password
      const tokenCalls = log.filter((e) => e.route === 'token');
      expect(tokenCalls.map((e) => [e.method, e.status])).toContainEqual(['POST', 200]);
      expect(tokenCalls.filter((e) => e.method === 'GET')).toEqual([]);
      expect(log).toContainEqual(expect.objectContaining({ route: 'manifest', status: 200, account: 'alice' }));
      expect(digest).toMatch(/^sha256:/);
    });

    it('docker is refused with a bogus identity token', async () => {
      log.length = 0;
      const r = await run('docker', ['manifest', 'inspect', '--insecure', `${host}/alice/app:v1`], {
        env: { ...process.env, DOCKER_CONFIG: await dockerConfig('bogus', 'kas9Da81Dfa8') },
      });
      expect(r.code).not.toBe(0);
      expect(log).toContainEqual(expect.objectContaining({ route: 'token', method: 'POST', status: 401 }));
      expect(log.filter((e) => e.route === 'manifest' && e.status === 200)).toEqual([]);
    });
  },
);
