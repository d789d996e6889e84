import { copy, MemoryImageStore } from '@lade/manifest';
import { peerFixtures, peersAvailable, runOk } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerErrorMessage, Registry, registrySink, registrySource, UnauthorizedError } from '../../src/index.js';
import { startTokenRegistry, type TokenRegistry } from './token-registry.js';

describe.runIf(peersAvailable('skopeo', 'docker-registry'))(
  'bearer token auth against docker-registry with a token service',
  () => {
    let reg: TokenRegistry;
    let layout: string;

    beforeAll(async () => {
      layout = await peerFixtures({ big: 8 });
      reg = await startTokenRegistry({ users: { lade: 's3cret', reader: 'r' }, pushers: ['lade'] });
      for (const t of ['amd64', 'tricky']) {
        await runOk('skopeo', [
          'copy',
          '-q',
          '--dest-tls-verify=false',
          '--dest-creds',
          'lade:s3cret',
          `oci:${layout}:${t}`,
          `docker://${reg.host}/fixtures/${t}:latest`,
        ]);
      }
    });
    afterAll(async () => {
      await reg?.stop();
    });

    it('pulls anonymously with a pull-scoped token, fetched once and cached for the scope', async () => {
      reg.issued.length = 0;
      const src = registrySource(`${reg.host}/fixtures/tricky:latest`, { credentials: null });
      const result = await copy(src, new MemoryImageStore().sink('t'));
      await src.close?.();
      expect(result.blobs).toBe(3);
      expect(reg.issued).toEqual([
        { method: 'GET', scopes: ['repository:fixtures/tricky:pull'], account: undefined, grant: undefined },
      ]);
    });

    it('pushes with basic credentials exchanged for a pull,push token', async () => {
      reg.issued.length = 0;
      const src = registrySource(`${reg.host}/fixtures/amd64:latest`, { credentials: null });
      const sink = registrySink(`${reg.host}/team/app:1`, { credentials: { username: 'lade', password: 's3cret' } });
      const result = await copy(src, sink);
      await src.close?.();
      await sink.close?.();
      expect(reg.issued.some((t) => t.account === 'lade' && t.scopes.includes('repository:team/app:pull,push'))).toBe(
        true,
      );
      const r = new Registry(reg.host, { credentials: null });
      expect((await r.resolve('team/app', '1')).digest).toBe(result.root.digest);
      await r.close();
    });

    it('is denied a push without push rights, in docker words', async () => {
      const src = registrySource(`${reg.host}/fixtures/amd64:latest`, { credentials: null });
      const sink = registrySink(`${reg.host}/team/other:1`, { credentials: { username: 'reader', password: 'r' } });
      const err = await copy(src, sink).catch((e: unknown) => e);
      await src.close?.();
      await sink.close?.();
      expect(err).toBeInstanceOf(UnauthorizedError);
      expect(dockerErrorMessage(err, { action: 'push', name: `${reg.host}/team/other` })).toMatch(
        /^unauthorized: |^denied: requested access to the resource is denied$/,
      );
    });

    it('refuses wrong credentials at the token service with UNAUTHORIZED', async () => {
      const r = new Registry(reg.host, { credentials: { username: 'lade', password: 'nope' } });
      const err = await r.getManifest('fixtures/amd64', 'latest').catch((e: unknown) => e);
      await r.close();
      expect(err).toMatchObject({ code: 'UNAUTHORIZED' });
      expect((err as Error).message).toMatch(/refused the credentials/);
    });

    it('logs in, receives a refresh token, and uses it as identity token through the OAuth POST', async () => {
      const r = new Registry(reg.host, { credentials: null });
      const { identityToken } = await r.login({ username: 'lade', password: 's3cret' });
      await r.close();
      expect(identityToken).toMatch(/[0-9a-f-]{36}/);
      reg.issued.length = 0;
      const r2 = new Registry(reg.host, { credentials: { identityToken: identityToken! } });
      await r2.getManifest('fixtures/amd64', 'latest');
      await r2.close();
      expect(reg.issued).toEqual([
        { method: 'POST', scopes: ['repository:fixtures/amd64:pull'], account: 'lade', grant: 'refresh_token' },
      ]);
    });

    it('fetches a new token when the registry starts refusing the cached one mid-session (401)', async () => {
      // Tokens whose exp lies 55 s in the past: the registry's 60 s leeway accepts them for about 5 seconds.
      reg.expOffsetSeconds = -55;
      try {
        reg.issued.length = 0;
        const r = new Registry(reg.host, { credentials: { username: 'lade', password: 's3cret' } });
        await r.getManifest('fixtures/amd64', 'latest');
        expect(reg.issued).toHaveLength(1);
        await new Promise((ok) => setTimeout(ok, 6000));
        const again = await r.getManifest('fixtures/amd64', 'latest');
        await r.close();
        expect(again.descriptor.digest).toMatch(/^sha256:/);
        expect(reg.issued).toHaveLength(2);
        expect(reg.issued[1]!.scopes).toEqual(reg.issued[0]!.scopes);
      } finally {
        reg.expOffsetSeconds = 300;
      }
    });
  },
);
