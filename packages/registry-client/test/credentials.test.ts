import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type DockerConfigOptions,
  getCredentials,
  readDockerConfig,
  removeCredentials,
  saveCredentials,
} from '../src/index.js';

// A credential helper speaking docker's protocol (get/store/erase on stdin/stdout), keeping secrets in a JSON file.
const helperScript = `#!/usr/bin/env node
const fs = require('fs');
const file = process.env.LADE_HELPER_STORE;
const db = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const action = process.argv[2];
  fs.appendFileSync(file + '.log', action + ' ' + input.trim().slice(0, 60) + '\\n');
  if (action === 'get') {
    const e = db[input.trim()];
    if (!e) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    process.stdout.write(JSON.stringify({ ServerURL: input.trim(), Username: e.Username, Secret: e.Secret }));
  } else if (action === 'store') {
    const c = JSON.parse(input);
    db[c.ServerURL] = c;
    fs.writeFileSync(file, JSON.stringify(db));
  } else if (action === 'erase') {
    if (!db[input.trim()]) { process.stdout.write('credentials not found in native keychain\\n'); process.exit(1); }
    delete db[input.trim()];
    fs.writeFileSync(file, JSON.stringify(db));
  } else if (action === 'broken') {
    process.exit(3);
  }
});
`;

describe('docker config credentials', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let opts: DockerConfigOptions;
  let store: string;

  beforeEach(async () => {
    dir = await tempDir('lade-creds-');
    const bin = join(dir.path, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'docker-credential-ladetest'), helperScript);
    await chmod(join(bin, 'docker-credential-ladetest'), 0o755);
    store = join(dir.path, 'helper-store.json');
    opts = {
      env: { DOCKER_CONFIG: join(dir.path, 'docker'), PATH: `${bin}:${process.env.PATH}`, LADE_HELPER_STORE: store },
    };
  });
  afterEach(async () => {
    await dir.cleanup();
  });

  const writeConfig = async (config: unknown) => {
    await mkdir(join(dir.path, 'docker'), { recursive: true });
    await writeFile(
      join(dir.path, 'docker', 'config.json'),
      typeof config === 'string' ? config : JSON.stringify(config),
    );
  };
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('reads base64 auth, username/password fields and identity tokens from auths', async () => {
    await writeConfig({
      auths: {
        'reg.example:5000': { auth: b64('alice:pa:ss') },
        'https://other.example/v1/': { username: 'bob', password: 'pw' },
        'https://index.docker.io/v1/': { auth: b64('hubuser:hubpw'), identitytoken: 'refresh-123' },
      },
    });
    expect(await getCredentials('reg.example:5000', opts)).toEqual({ username: 'alice', password: 'pa:ss' });
    expect(await getCredentials('other.example', opts)).toEqual({ username: 'bob', password: 'pw' });
    expect(await getCredentials('docker.io', opts)).toEqual({
      username: 'hubuser',
      password: 'hubpw',
      identityToken: 'refresh-123',
    });
    expect(await getCredentials('registry-1.docker.io', opts)).toEqual({
      username: 'hubuser',
      password: 'hubpw',
      identityToken: 'refresh-123',
    });
    expect(await getCredentials('unknown.example', opts)).toBeUndefined();
  });

  it('has no credentials when config.json does not exist', async () => {
    expect(await getCredentials('reg.example', opts)).toBeUndefined();
    expect(await readDockerConfig(opts)).toEqual({});
  });

  it('asks credHelpers for their host and credsStore for the others', async () => {
    await writeFile(
      store,
      JSON.stringify({
        'reg.example': { Username: 'helped', Secret: 'secret1' },
        'https://index.docker.io/v1/': { Username: '<token>', Secret: 'identity-xyz' },
      }),
    );
    await writeConfig({ credHelpers: { 'reg.example': 'ladetest' }, credsStore: 'ladetest' });
    expect(await getCredentials('reg.example', opts)).toEqual({ username: 'helped', password: 'secret1' });
    expect(await getCredentials('docker.io', opts)).toEqual({ identityToken: 'identity-xyz' });
    expect(await getCredentials('nothing.example', opts)).toBeUndefined();
    expect(await readFile(`${store}.log`, 'utf8')).toContain('get https://index.docker.io/v1/');
  });

  it('saves base64 auth atomically with mode 0600, keeping the other fields', async () => {
    await writeConfig({ auths: { 'keep.example': { auth: b64('k:k') } }, psFormat: 'table {{.ID}}' });
    await saveCredentials('reg.example:5000', { username: 'alice', password: 'pw' }, opts);
    const cfg = JSON.parse(await readFile(join(dir.path, 'docker', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toEqual({
      auths: { 'keep.example': { auth: b64('k:k') }, 'reg.example:5000': { auth: b64('alice:pw') } },
      psFormat: 'table {{.ID}}',
    });
    expect((await stat(join(dir.path, 'docker', 'config.json'))).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir.path, 'docker'))).toEqual(['config.json']);
    expect(await getCredentials('reg.example:5000', opts)).toEqual({ username: 'alice', password: 'pw' });
  });

  it('saves Docker Hub credentials under https://index.docker.io/v1/', async () => {
    await saveCredentials('docker.io', { username: 'u', password: 'p' }, opts);
    const cfg = await readDockerConfig(opts);
    expect(Object.keys(cfg.auths ?? {})).toEqual(['https://index.docker.io/v1/']);
  });

  it('stores in the credsStore and leaves an empty auths entry, as docker login does', async () => {
    await writeConfig({ credsStore: 'ladetest' });
    await saveCredentials('reg.example', { username: 'carol', password: 'pw2' }, opts);
    expect((await readDockerConfig(opts)).auths).toEqual({ 'reg.example': {} });
    expect(JSON.parse(await readFile(store, 'utf8'))).toEqual({
      'reg.example': { ServerURL: 'reg.example', Username: 'carol', Secret: 'pw2' },
    });
    expect(await getCredentials('reg.example', opts)).toEqual({ username: 'carol', password: 'pw2' });
    expect(await removeCredentials('reg.example', opts)).toBe(true);
    expect(JSON.parse(await readFile(store, 'utf8'))).toEqual({});
    expect((await readDockerConfig(opts)).auths).toEqual({});
  });

  it('removes auths entries, matching scheme-qualified keys, and reports when there was nothing', async () => {
    await writeConfig({ auths: { 'https://reg.example': { auth: b64('a:b') }, 'x.example': { auth: b64('c:d') } } });
    expect(await removeCredentials('reg.example', opts)).toBe(true);
    expect((await readDockerConfig(opts)).auths).toEqual({ 'x.example': { auth: b64('c:d') } });
    expect(await removeCredentials('reg.example', opts)).toBe(false);
  });

  it('rejects an invalid config.json with CREDENTIALS_INVALID and does not overwrite it', async () => {
    await writeConfig('{ not json');
    await expect(getCredentials('reg.example', opts)).rejects.toMatchObject({ code: 'CREDENTIALS_INVALID' });
    await expect(saveCredentials('reg.example', { username: 'a', password: 'b' }, opts)).rejects.toMatchObject({
      code: 'CREDENTIALS_INVALID',
    });
    expect(await readFile(join(dir.path, 'docker', 'config.json'), 'utf8')).toBe('{ not json');
  });

  it('rejects an auth value that is not base64 of user:password', async () => {
    await writeConfig({ auths: { 'reg.example': { auth: b64('nocolon') } } });
    await expect(getCredentials('reg.example', opts)).rejects.toMatchObject({
      code: 'CREDENTIALS_INVALID',
      message: expect.stringMatching(/not base64 of user:password/),
    });
  });

  it('names a credential helper that is not installed', async () => {
    await writeConfig({ credsStore: 'missing-helper' });
    await expect(getCredentials('reg.example', opts)).rejects.toMatchObject({
      code: 'CREDENTIALS_INVALID',
      message: expect.stringMatching(/docker-credential-missing-helper is not installed/),
    });
  });
});
