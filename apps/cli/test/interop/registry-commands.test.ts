import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fixturesDir,
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  runOk,
  startRegistry,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lade } from '../helpers.js';

describe.runIf(peersAvailable('skopeo', 'docker-registry'))('registry commands against docker-registry', () => {
  let registry: PeerRegistry;
  let home: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    home = await tempDir('lade-cli-home-');
    registry = await startRegistry();
    await pushPeerFixtures(await peerFixtures({ big: 8 }), registry.host, ['tricky', 'amd64', 'multi']);
  });
  afterAll(async () => {
    await registry?.stop();
    await home?.cleanup();
  });

  it('lists the tags of a repository', async () => {
    const r = await lade(home.path, ['tags', 'ls', `${registry.host}/fixtures/multi`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('latest\n');
    const j = await lade(home.path, ['tags', 'ls', '--json', `${registry.host}/fixtures/multi`]);
    expect(JSON.parse(j.stdout)).toEqual(['latest']);
  });

  it("lists the registry's catalog", async () => {
    const r = await lade(home.path, ['catalog', registry.host]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(
      expect.arrayContaining(['fixtures/amd64', 'fixtures/multi', 'fixtures/tricky']),
    );
  });

  it('reports a missing repository as docker does and exits 1', async () => {
    const r = await lade(home.path, ['tags', 'ls', `${registry.host}/nope/nothing`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: /);
    expect(r.stderr).toContain('repository name not known to registry');
  });

  it('deletes a manifest by tag from the registry', async () => {
    await runOk('skopeo', [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `docker://${registry.host}/fixtures/amd64:latest`,
      `docker://${registry.host}/scratch/del:1`,
      '--src-tls-verify=false',
    ]);
    const digest = JSON.parse(
      await runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/scratch/del:1`]),
    ).Digest as string;
    const r = await lade(home.path, ['delete', `${registry.host}/scratch/del:1`]);
    expect(r).toMatchObject({ code: 0, stdout: `Deleted: ${registry.host}/scratch/del@${digest}\n` });
    const after = await lade(home.path, ['tags', 'ls', `${registry.host}/scratch/del`]);
    expect(after.stdout).toBe('');
  });

  it("refuses a usage error with docker's wording", async () => {
    const r = await lade(home.path, ['tags', 'ls']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "lade: 'lade tags ls' requires 1 argument\n\nUsage:  lade tags ls [OPTIONS] NAME\n\nRun 'lade tags ls --help' for more information\n",
    );
    const f = await lade(home.path, ['catalog', '--bogus', registry.host]);
    expect(f.code).toBe(125);
    expect(f.stderr).toBe(
      "unknown flag: --bogus\n\nUsage:  lade catalog [OPTIONS] REGISTRY\n\nRun 'lade catalog --help' for more information\n",
    );
  });
});

describe.runIf(peersAvailable('skopeo', 'docker-registry'))(
  'login and logout against a registry with basic auth',
  () => {
    let registry: PeerRegistry;
    let home: { path: string; cleanup: () => Promise<void> };

    beforeAll(async () => {
      home = await tempDir('lade-cli-home-');
      registry = await startRegistry({ auth: 'alice:s3cret' });
    });
    afterAll(async () => {
      await registry?.stop();
      await home?.cleanup();
    });

    it('verifies and stores credentials with --password-stdin', async () => {
      const r = await lade(home.path, ['login', '-u', 'alice', '--password-stdin', registry.host], {
        stdin: 's3cret\n',
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('Login Succeeded\n');
      expect(r.stderr).toContain('WARNING! Your credentials are stored unencrypted');
      const config = JSON.parse(await readFile(join(home.path, '.docker', 'config.json'), 'utf8'));
      expect(config.auths[registry.host].auth).toBe(Buffer.from('alice:s3cret').toString('base64'));
      const tags = await lade(home.path, ['catalog', registry.host]);
      expect(tags.code).toBe(0);
    });

    it('writes config.json under --config DIR', async () => {
      const dir = join(home.path, 'custom-config');
      const r = await lade(home.path, ['--config', dir, 'login', '-u', 'alice', '--password-stdin', registry.host], {
        stdin: 's3cret\n',
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toContain(`'${join(dir, 'config.json')}'`);
      const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(Object.keys(config.auths)).toEqual([registry.host]);
    });

    it('warns about -p on the command line', async () => {
      const r = await lade(home.path, ['login', '-u', 'alice', '-p', 's3cret', registry.host]);
      expect(r.code).toBe(0);
      expect(r.stderr.split('\n')[0]).toBe('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    });

    it('refuses a wrong password, exits 1 and leaves config.json unchanged', async () => {
      const before = await readFile(join(home.path, '.docker', 'config.json'), 'utf8');
      const r = await lade(home.path, ['login', '-u', 'alice', '--password-stdin', registry.host], {
        stdin: 'wrong\n',
      });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^Error: .*401 Unauthorized/);
      expect(await readFile(join(home.path, '.docker', 'config.json'), 'utf8')).toBe(before);
    });

    it('refuses an interactive login without a terminal', async () => {
      const other = await tempDir('lade-cli-home-');
      const r = await lade(other.path, ['login', registry.host]);
      expect(r).toMatchObject({
        code: 1,
        stderr: 'Error: Cannot perform an interactive login from a non TTY device\n',
      });
      await other.cleanup();
    });

    it('prompts for username and password on a terminal', async () => {
      const other = await tempDir('lade-cli-home-');
      try {
        const r = await lade(other.path, ['login', registry.host], { stdin: 'alice\ns3cret\n', stdinIsTTY: true });
        expect(r.code).toBe(0);
        expect(r.stdout).toBe('Username: Password: Login Succeeded\n');
        const config = JSON.parse(await readFile(join(other.path, '.docker', 'config.json'), 'utf8'));
        expect(config.auths[registry.host].auth).toBe(Buffer.from('alice:s3cret').toString('base64'));
      } finally {
        await other.cleanup();
      }
    });

    it('refuses --password-stdin without --username', async () => {
      const r = await lade(home.path, ['login', '--password-stdin', registry.host], { stdin: 'x' });
      expect(r).toMatchObject({ code: 1, stderr: 'Must provide --username with --password-stdin\n' });
    });

    it('pulls and pushes with the stored credentials, and words refusals as docker does without them', async () => {
      const layout = await peerFixtures({ big: 8 });
      await runOk('skopeo', [
        'copy',
        '-q',
        '--dest-creds',
        'alice:s3cret',
        '--dest-tls-verify=false',
        `oci:${layout}:tricky`,
        `docker://${registry.host}/private/app:1`,
      ]);
      const env = { LADE_HOME: join(home.path, 'store') };
      const anonymous = await tempDir('lade-cli-home-');
      try {
        const denied = await lade(anonymous.path, ['pull', `${registry.host}/private/app:1`], {
          env: { LADE_HOME: join(anonymous.path, 'store') },
        });
        expect(denied.code).toBe(1);
        expect(denied.stderr).toBe(
          `Error: pull access denied for ${registry.host}/private/app, repository does not exist or may require 'docker login': unauthorized: authentication required\n`,
        );
      } finally {
        await anonymous.cleanup();
      }
      const pulled = await lade(home.path, ['pull', '-q', `${registry.host}/private/app:1`], { env });
      expect(pulled).toMatchObject({ code: 0, stdout: `${registry.host}/private/app:1\n` });
      expect(
        (await lade(home.path, ['tag', `${registry.host}/private/app:1`, `${registry.host}/private/app:2`], { env }))
          .code,
      ).toBe(0);
      const pushed = await lade(home.path, ['push', `${registry.host}/private/app:2`], { env });
      expect(pushed.stderr).toBe('');
      expect(pushed.code).toBe(0);
      expect(pushed.stdout).toMatch(/2: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
      const other = await tempDir('lade-cli-home-');
      try {
        const store = join(other.path, 'store');
        await lade(other.path, ['load', '-q', '-i', join(fixturesDir, 'ggcr/hello-world-v25.tar')], {
          env: { LADE_HOME: store },
        });
        await lade(other.path, ['tag', 'ee301c921b8a', `${registry.host}/private/hello:1`], {
          env: { LADE_HOME: store },
        });
        const refused = await lade(other.path, ['push', `${registry.host}/private/hello:1`], {
          env: { LADE_HOME: store },
        });
        expect(refused.code).toBe(1);
        expect(refused.stderr).toBe('Error: unauthorized: authentication required\n');
      } finally {
        await other.cleanup();
      }
    });

    it('copies with --src-creds and --dest-creds and without stored credentials', async () => {
      const layout = await peerFixtures({ big: 8 });
      const fresh = await tempDir('lade-cli-home-');
      try {
        const run = (args: string[]) => lade(fresh.path, args, { env: { LADE_HOME: join(fresh.path, 'store') } });
        const target = `docker://${registry.host}/private/copied:1`;
        const refused = await run(['copy', '-q', `oci:${layout}:tricky`, target]);
        expect(refused.code).toBe(1);
        const pushed = await run([
          'copy',
          '-q',
          '--dest-creds',
          'alice:s3cret',
          '--dest-tls-verify=false',
          `oci:${layout}:tricky`,
          target,
        ]);
        expect(pushed).toMatchObject({ code: 0, stdout: '', stderr: '' });
        const back = await run(['copy', '-q', '--src-creds', 'alice:s3cret', target, 'lade:copied:1']);
        expect(back.code).toBe(0);
        const digest = await runOk('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${layout}:tricky`]);
        expect(
          await runOk('skopeo', ['inspect', '--format', '{{.Digest}}', `oci:${join(fresh.path, 'store')}:copied:1`]),
        ).toBe(digest);
        const bad = await run(['copy', '--dest-creds', 'nocolon', `oci:${layout}:tricky`, target]);
        expect(bad.code).toBe(125);
        const badBool = await run(['copy', '--dest-tls-verify=maybe', `oci:${layout}:tricky`, target]);
        expect(badBool.code).toBe(125);
      } finally {
        await fresh.cleanup();
      }
    });

    it('removes the credentials on logout', async () => {
      const r = await lade(home.path, ['logout', registry.host]);
      expect(r).toMatchObject({ code: 0, stdout: `Removing login credentials for ${registry.host}\n` });
      const config = JSON.parse(await readFile(join(home.path, '.docker', 'config.json'), 'utf8'));
      expect(config.auths[registry.host]).toBeUndefined();
      const again = await lade(home.path, ['logout', registry.host]);
      expect(again.stdout).toBe(`Removing login credentials for ${registry.host}\n`);
      const denied = await lade(home.path, ['catalog', registry.host]);
      expect(denied.code).toBe(1);
    });
  },
);
