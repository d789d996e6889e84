import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { writeTar } from '@lade/archive';
import { loadImage } from '@lade/rootfs';
import { ImageStore } from '@lade/store';
import { peersAvailable, runOk, tempDir } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lade } from './helpers.js';

const HELLO = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]);

describe('lade build', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let ctxDir: string;
  const run = (args: string[], env: Record<string, string> = {}) => lade(t.path, ['--root', root, ...args], { env });
  const config = async (name: string) => (await loadImage((await ImageStore.open(root)).source(name))).config.config;

  beforeEach(async () => {
    t = await tempDir('lade-build-');
    root = join(t.path, 'store');
    ctxDir = join(t.path, 'ctx');
    mkdirSync(ctxDir);
  });
  afterEach(() => t.cleanup());

  function seed(): void {
    writeFileSync(join(ctxDir, 'hello'), HELLO, { mode: 0o755 });
    chmodSync(join(ctxDir, 'hello'), 0o755);
    utimesSync(join(ctxDir, 'hello'), 1_700_000_000, 1_700_000_000);
    writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM scratch\nADD hello /\nENTRYPOINT ["/hello"]\n');
  }

  it("builds the seed's example with docker's history entries and one layer", async () => {
    seed();
    const r = await run(['build', '-t', 'hello:latest', ctxDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Step 1/3 : FROM scratch');
    expect(r.stdout).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged hello:latest\n$/);
    const c = await config('hello:latest');
    expect(c.rootfs.diff_ids).toHaveLength(1);
    expect(c.config?.Entrypoint).toEqual(['/hello']);
    expect(c.created).toBe('1970-01-01T00:00:00Z');
    expect(c.history).toEqual([
      { created: '1970-01-01T00:00:00Z', created_by: 'ADD hello / # buildkit', comment: 'buildkit.dockerfile.v0' },
      {
        created: '1970-01-01T00:00:00Z',
        created_by: 'ENTRYPOINT ["/hello"]',
        comment: 'buildkit.dockerfile.v0',
        empty_layer: true,
      },
    ]);
  });

  it('gives the same image ID for the same context and Dockerfile, and honours SOURCE_DATE_EPOCH', async () => {
    seed();
    const q = async (env: Record<string, string> = {}, store = root) =>
      (await lade(t.path, ['--root', store, 'build', '-q', '-t', 'x', ctxDir], { env })).stdout.trim();
    const a = await q();
    const b = await q({}, join(t.path, 'other-store'));
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b).toBe(a);
    const e1 = await q({ SOURCE_DATE_EPOCH: '1600000000' }, join(t.path, 's1'));
    const e2 = await q({ SOURCE_DATE_EPOCH: '1600000000' }, join(t.path, 's2'));
    expect(e1).toBe(e2);
    expect(e1).not.toBe(a);
    const c = await (async () =>
      (await loadImage((await ImageStore.open(join(t.path, 's1'))).source('x'))).config.config)();
    expect(c.created).toBe('2020-09-13T12:26:40Z');
  });

  it('fails on RUN with the line number and stores nothing', async () => {
    writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM scratch\nENV A=1\n\nRUN echo hi\n');
    const r = await run(['build', '-t', 'nope', ctxDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: Dockerfile:4: RUN needs a container runtime; lade builds images without one\n');
    const images = await (await ImageStore.open(root)).listImages();
    expect(images).toEqual([]);
  });

  it('applies metadata instructions, ARG and --build-arg, with empty_layer history entries', async () => {
    writeFileSync(
      join(ctxDir, 'Dockerfile'),
      [
        'ARG VERSION=1.0',
        'FROM scratch',
        'ARG VERSION',
        'ARG WHO=world',
        'ENV APP_VERSION=${VERSION} GREETING="hello $WHO"',
        'LABEL org.opencontainers.image.version=$VERSION "with space"=yes',
        'WORKDIR /srv',
        'WORKDIR app',
        'USER 1000:1000',
        'EXPOSE 8080 53/udp',
        'VOLUME ["/data"]',
        'STOPSIGNAL SIGTERM',
        'CMD echo $HOME',
        '',
      ].join('\n'),
    );
    const r = await run(['build', '-t', 'meta', '--build-arg', 'WHO=lade', ctxDir]);
    expect(r.stderr).toBe('');
    const c = await config('meta');
    expect(c.config?.Env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'APP_VERSION=1.0',
      'GREETING=hello lade',
    ]);
    expect(c.config?.Labels).toEqual({ 'org.opencontainers.image.version': '1.0', 'with space': 'yes' });
    expect(c.config?.WorkingDir).toBe('/srv/app');
    expect(c.config?.User).toBe('1000:1000');
    expect(c.config?.ExposedPorts).toEqual({ '8080/tcp': {}, '53/udp': {} });
    expect(c.config?.Volumes).toEqual({ '/data': {} });
    expect(c.config?.StopSignal).toBe('SIGTERM');
    expect(c.config?.Cmd).toEqual(['/bin/sh', '-c', 'echo $HOME']);
    // WORKDIR makes its directory (a layer each here, as BuildKit's mkdir); the rest only changes the config.
    expect(c.rootfs.diff_ids).toHaveLength(2);
    expect(c.history?.filter((h) => h.empty_layer !== true).map((h) => h.created_by)).toEqual([
      'WORKDIR /srv',
      'WORKDIR /srv/app',
    ]);
    expect(c.history?.map((h) => h.created_by)).toEqual([
      'ARG VERSION=1.0',
      'ARG WHO=lade',
      'ENV APP_VERSION=1.0 GREETING=hello lade',
      'LABEL org.opencontainers.image.version=1.0 with space=yes',
      'WORKDIR /srv',
      'WORKDIR /srv/app',
      'USER 1000:1000',
      'EXPOSE map[53/udp:{} 8080/tcp:{}]',
      'VOLUME ["/data"]',
      'STOPSIGNAL SIGTERM',
      'CMD ["/bin/sh","-c","echo $HOME"]',
    ]);
  });

  it('copies files, directories and globs with --chown and --chmod, honours .dockerignore, and extracts local tars with ADD', async () => {
    mkdirSync(join(ctxDir, 'src/sub'), { recursive: true });
    writeFileSync(join(ctxDir, 'src/a.txt'), 'a\n');
    writeFileSync(join(ctxDir, 'src/b.txt'), 'b\n');
    writeFileSync(join(ctxDir, 'src/skip.log'), 'no\n');
    writeFileSync(join(ctxDir, 'src/sub/c.txt'), 'c\n');
    writeFileSync(join(ctxDir, 'one.md'), '1\n');
    writeFileSync(join(ctxDir, 'two.md'), '2\n');
    writeFileSync(join(ctxDir, 'secret.key'), 'x\n');
    writeFileSync(join(ctxDir, '.dockerignore'), '# comment\n*.key\n**/*.log\n');
    const tar = new Uint8Array(
      await new Response(
        writeTar([
          { header: { name: 'pkg/', type: 'directory' } },
          { header: { name: 'pkg/in-tar.txt' }, body: 'from tar\n' },
        ]),
      ).arrayBuffer(),
    );
    writeFileSync(join(ctxDir, 'bundle.tar'), tar);
    writeFileSync(
      join(ctxDir, 'Dockerfile'),
      'FROM scratch\nCOPY --chown=1000:1000 src /app/\nCOPY --chmod=600 *.md /docs/\nADD bundle.tar /opt/\nCOPY src/a.txt /renamed.txt\n',
    );
    const r = await run(['build', '-t', 'files', ctxDir]);
    expect(r.stderr).toBe('');
    const c = await config('files');
    expect(c.rootfs.diff_ids).toHaveLength(4);
    expect(c.history?.map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
      ['COPY --chown=1000:1000 src /app/ # buildkit', false],
      ['COPY --chmod=600 *.md /docs/ # buildkit', false],
      ['ADD bundle.tar /opt/ # buildkit', false],
      ['COPY src/a.txt /renamed.txt # buildkit', false],
    ]);
    const bundle = join(t.path, 'bundle');
    expect((await run(['unpack', 'files', bundle])).stderr).toBe('');
    const rootfs = join(bundle, 'rootfs');
    const walk = (d: string, rel = ''): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) => [
        `${rel}${e.name}${e.isDirectory() ? '/' : ''}`,
        ...(e.isDirectory() ? walk(join(d, e.name), `${rel}${e.name}/`) : []),
      ]);
    expect(walk(rootfs).sort()).toEqual(
      [
        'app/',
        'app/a.txt',
        'app/b.txt',
        'app/sub/',
        'app/sub/c.txt',
        'docs/',
        'docs/one.md',
        'docs/two.md',
        'opt/',
        'opt/pkg/',
        'opt/pkg/in-tar.txt',
        'renamed.txt',
      ].sort(),
    );
    expect(statSync(join(rootfs, 'app/a.txt')).uid).toBe(1000);
    expect(statSync(join(rootfs, 'docs/one.md')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(rootfs, 'opt/pkg/in-tar.txt'), 'utf8')).toBe('from tar\n');
  });

  it('builds FROM an image in the store, keeping its layers and config', async () => {
    seed();
    await run(['build', '-t', 'base:1', ctxDir]);
    writeFileSync(join(ctxDir, 'extra'), 'more\n');
    writeFileSync(join(ctxDir, 'Dockerfile.child'), 'FROM base:1\nCOPY extra /etc/extra\nCMD ["--help"]\n');
    const r = await run(['build', '-t', 'child', '-f', join(ctxDir, 'Dockerfile.child'), ctxDir]);
    expect(r.stderr).toBe('');
    const c = await config('child');
    expect(c.rootfs.diff_ids).toHaveLength(2);
    expect(c.config?.Entrypoint).toEqual(['/hello']);
    expect(c.config?.Cmd).toEqual(['--help']);
    expect(c.history).toHaveLength(4);
  });

  it('names a missing base image and a missing context clearly', async () => {
    // A base the store lacks is pulled; here from a loopback port nothing listens on.
    writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM 127.0.0.1:9/nothing-here:1\n');
    const r = await run(['build', '-t', 'x', ctxDir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^Error: Dockerfile:1: base image "127\.0\.0\.1:9\/nothing-here:1" is neither in the local store nor pullable: .+\n$/,
    );
    const r2 = await run(['build', '-t', 'x', join(t.path, 'missing')]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('unable to prepare context');
  });

  describe.runIf(peersAvailable('skopeo', 'umoci'))('the seed image in other tools', () => {
    it('reads with skopeo and umoci with identical digests', async () => {
      seed();
      await run(['build', '-t', 'hello:latest', ctxDir]);
      const store = await ImageStore.open(root);
      const resolved = await store.resolve('hello:latest');
      const inspect = JSON.parse(await runOk('skopeo', ['inspect', `oci:${root}:hello:latest`]));
      expect(inspect.Digest).toBe(resolved.root.digest);
      const raw = await runOk('skopeo', ['inspect', '--raw', `oci:${root}:hello:latest`]);
      const { createHash } = await import('node:crypto');
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(resolved.root.digest);
      const cfg = JSON.parse(await runOk('skopeo', ['inspect', '--config', '--raw', `oci:${root}:hello:latest`]));
      expect(cfg.config.Entrypoint).toEqual(['/hello']);
      // lade save → a docker archive skopeo reads with the same image ID and layer
      const archive = join(t.path, 'hello.tar');
      const saved = await run(['save', '-o', archive, 'hello:latest']);
      expect(saved.code, saved.stderr).toBe(0);
      const fromArchive = JSON.parse(
        await runOk('skopeo', ['inspect', '--config', '--raw', `docker-archive:${archive}`]),
      );
      const { createHash: h } = await import('node:crypto');
      const configRaw = await runOk('skopeo', ['inspect', '--config', '--raw', `docker-archive:${archive}`]);
      expect(`sha256:${h('sha256').update(configRaw).digest('hex')}`).toBe(resolved.imageId);
      expect(fromArchive.rootfs.diff_ids).toEqual(cfg.rootfs.diff_ids);
      // … and into an OCI layout umoci unpacks, the manifest digest unchanged
      const layout = join(t.path, 'copy');
      await runOk('skopeo', ['copy', '-q', `oci:${root}:hello:latest`, `oci:${layout}:hello`]);
      expect(JSON.parse(await runOk('skopeo', ['inspect', `oci:${layout}:hello`])).Digest).toBe(resolved.root.digest);
      const bundle = join(t.path, 'umoci');
      await runOk('umoci', ['unpack', '--image', `${layout}:hello`, bundle]);
      expect(new Uint8Array(readFileSync(join(bundle, 'rootfs/hello')))).toEqual(HELLO);
      expect(statSync(join(bundle, 'rootfs/hello')).mode & 0o777).toBe(0o755);
      expect(existsSync(join(bundle, 'config.json'))).toBe(true);
    });
  });
});
