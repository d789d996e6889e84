import { join } from 'node:path';
import {
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  run,
  startRegistry,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lade } from '../helpers.js';

// The docker CLI client (no engine needed for `docker manifest`) as the judge of lade's output, byte for byte.
describe.runIf(peersAvailable('docker', 'skopeo', 'docker-registry'))('lade manifest against the docker client', () => {
  let registry: PeerRegistry;
  let home: { path: string; cleanup: () => Promise<void> };
  let R: string;
  const ladeRun = (args: string[]) => lade(home.path, args, { env: { LADE_HOME: join(home.path, 'store') } });
  const docker = (args: string[]) =>
    run('docker', args, { env: { ...process.env, DOCKER_CONFIG: join(home.path, 'docker-config') } });

  beforeAll(async () => {
    home = await tempDir('lade-cli-docker-');
    registry = await startRegistry();
    R = registry.host;
    await pushPeerFixtures(await peerFixtures({ big: 8 }), R, ['tricky', 'amd64', 'arm64', 'multi']);
    expect(
      (
        await ladeRun([
          'copy',
          '-q',
          '--format',
          'v2s2',
          `docker://${R}/fixtures/tricky`,
          `docker://${R}/v2s2/tricky:1`,
        ])
      ).code,
    ).toBe(0);
  });
  afterAll(async () => {
    await registry?.stop();
    await home?.cleanup();
  });

  it.each([
    'fixtures/multi',
    'fixtures/amd64',
    'fixtures/tricky',
    'v2s2/tricky:1',
    'nothing/here',
    'fixtures/amd64:nope',
  ])('prints manifest inspect [-v] %s exactly as docker does', async (name) => {
    for (const verbose of [[], ['-v']]) {
      const want = await docker(['manifest', 'inspect', '--insecure', ...verbose, `${R}/${name}`]);
      const got = await ladeRun(['manifest', 'inspect', ...verbose, `${R}/${name}`]);
      expect(got.code).toBe(want.code);
      expect(got.stdout).toBe(want.stdout);
      // lade prefixes its errors with `Error: `; the message itself is docker's.
      expect(got.stderr).toBe(want.stderr === '' ? '' : `Error: ${want.stderr}`);
    }
  });

  it('pushes a manifest list that docker reads exactly as lade shows it', async () => {
    const list = `${R}/lists/docker:1`;
    expect((await ladeRun(['manifest', 'create', list, `${R}/fixtures/amd64`, `${R}/fixtures/arm64`])).code).toBe(0);
    expect((await ladeRun(['manifest', 'annotate', '--variant', 'v8', list, `${R}/fixtures/arm64`])).code).toBe(0);
    const local = await ladeRun(['manifest', 'inspect', list]);
    expect((await ladeRun(['manifest', 'push', list])).code).toBe(0);
    const want = await docker(['manifest', 'inspect', '--insecure', list]);
    expect(want.code).toBe(0);
    expect(local.stdout).toBe(want.stdout);
    expect((await ladeRun(['manifest', 'inspect', list])).stdout).toBe(want.stdout);
  });
});

describe.runIf(peersAvailable('docker', 'skopeo', 'docker-registry'))('lade login against the docker client', () => {
  let registry: PeerRegistry;
  let home: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    home = await tempDir('lade-cli-docker-');
    registry = await startRegistry({ auth: 'dave:pw' });
  });
  afterAll(async () => {
    await registry?.stop();
    await home?.cleanup();
  });

  // docker logs its endpoint attempts through logrus (`time=… level=info …`); the rest of its output is compared.
  const withoutLogrus = (s: string) =>
    s
      .split('\n')
      .filter((l) => !l.startsWith('time='))
      .join('\n');

  it('logs in with the same output and the same config.json as docker, and each reads what the other stored', async () => {
    const dockerConfig = join(home.path, 'docker');
    const ladeConfig = join(home.path, 'lade');
    const want = await run('docker', ['login', '-u', 'dave', '--password-stdin', registry.host], {
      env: { ...process.env, DOCKER_CONFIG: dockerConfig },
      input: 'pw\n',
    });
    const got = await lade(home.path, ['login', '-u', 'dave', '--password-stdin', registry.host], {
      env: { DOCKER_CONFIG: ladeConfig },
      stdin: 'pw\n',
    });
    expect(got.code).toBe(want.code);
    expect(got.stdout).toBe(want.stdout);
    expect(got.stderr).toBe(withoutLogrus(want.stderr).replace(dockerConfig, ladeConfig));
    const { readFile } = await import('node:fs/promises');
    expect(JSON.parse(await readFile(join(ladeConfig, 'config.json'), 'utf8'))).toEqual(
      JSON.parse(await readFile(join(dockerConfig, 'config.json'), 'utf8')),
    );
    // lade pulls with the credentials docker stored.
    const layout = await peerFixtures({ big: 8 });
    await run('skopeo', [
      'copy',
      '-q',
      '--dest-creds',
      'dave:pw',
      '--dest-tls-verify=false',
      `oci:${layout}:tricky`,
      `docker://${registry.host}/p/app:1`,
    ]);
    const pulled = await lade(home.path, ['pull', '-q', `${registry.host}/p/app:1`], {
      env: { DOCKER_CONFIG: dockerConfig, LADE_HOME: join(home.path, 'store') },
    });
    expect(pulled).toMatchObject({ code: 0, stdout: `${registry.host}/p/app:1\n` });
    // docker logs out what lade stored, with the same words.
    const out = await run('docker', ['logout', registry.host], { env: { ...process.env, DOCKER_CONFIG: ladeConfig } });
    const ladeOut = await lade(home.path, ['logout', registry.host], { env: { DOCKER_CONFIG: ladeConfig } });
    expect(ladeOut.stdout).toBe(out.stdout);
  });

  it("refuses a wrong password with docker's message", async () => {
    const want = await run('docker', ['login', '-u', 'dave', '--password-stdin', registry.host], {
      env: { ...process.env, DOCKER_CONFIG: join(home.path, 'd2') },
      input: 'wrong\n',
    });
    const got = await lade(home.path, ['login', '-u', 'dave', '--password-stdin', registry.host], {
      env: { DOCKER_CONFIG: join(home.path, 'l2') },
      stdin: 'wrong\n',
    });
    expect(got.code).toBe(want.code);
    expect(got.stderr).toBe(`Error: ${withoutLogrus(want.stderr)}`);
  });
});

describe.runIf(peersAvailable('docker'))('usage errors against the docker client', () => {
  it.each([
    ['pull'],
    ['pull', '--frob', 'x'],
    ['pull', '-z', 'x'],
    ['pull', '--platform'],
    ['frob'],
    ['image', 'frob'],
    ['image', '--frob'],
    ['--frob'],
    ['tag', 'a'],
    ['tag', 'a', 'b', 'c'],
    ['image', 'prune', 'x'],
    ['rmi'],
    ['history'],
    ['history', '-x'],
    ['inspect'],
    ['image', 'inspect'],
    ['save'],
    ['load', 'x'],
    ['push'],
    ['manifest', 'inspect'],
    ['manifest', 'create', 'x'],
    ['manifest', 'rm'],
  ])("lade %j fails with docker's words and exit code", async (...args) => {
    const home = await tempDir('lade-cli-usage-');
    try {
      const want = await run('docker', args, { env: { ...process.env, DOCKER_CONFIG: join(home.path, 'docker') } });
      const got = await lade(home.path, args, { env: { LADE_HOME: join(home.path, 'store') } });
      expect(got.code).toBe(want.code);
      expect(got.stdout).toBe(want.stdout.replaceAll('docker', 'lade'));
      expect(got.stderr).toBe(want.stderr.replaceAll('docker', 'lade'));
    } finally {
      await home.cleanup();
    }
  });
});

describe.runIf(peersAvailable('docker'))('help text against the docker client', () => {
  // docker's manifest commands add an EXPERIMENTAL notice and some commands have --platform (multi-platform image
  // stores), which lade's do not; these have the same flags in both.
  it.each([['pull'], ['image', 'pull'], ['tag'], ['image', 'tag'], ['image', 'prune'], ['login']])(
    'lade %j --help prints what docker prints',
    async (...args) => {
      const home = await tempDir('lade-cli-help-');
      try {
        const want = await run('docker', [...args, '--help'], {
          env: { ...process.env, DOCKER_CONFIG: join(home.path, 'docker') },
        });
        const got = await lade(home.path, [...args, '--help']);
        expect(got.code).toBe(0);
        expect(got.stdout).toBe(want.stdout.replaceAll('docker', 'lade'));
      } finally {
        await home.cleanup();
      }
    },
  );
});
