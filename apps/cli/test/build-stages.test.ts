import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTar } from '@lade/archive';
import { loadImage } from '@lade/rootfs';
import { ImageStore } from '@lade/store';
import { peersAvailable, startRegistry, tempDir } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lade } from './helpers.js';

describe('lade build: multi-stage builds, --target, COPY --from, ARG before FROM, ONBUILD', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let ctx: string;
  const run = (args: string[]) => lade(t.path, ['--root', root, ...args]);
  const build = (name: string, dockerfile: string, extra: string[] = []) => {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    return run(['build', '-t', name, ...extra, ctx]);
  };
  const config = async (name: string) => (await loadImage((await ImageStore.open(root)).source(name))).config.config;
  const tags = async () => (await (await ImageStore.open(root)).listImages()).flatMap((i) => i.repoTags).sort();
  const walk = (d: string, rel = ''): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) => [
      `${rel}${e.name}${e.isDirectory() ? '/' : e.isSymbolicLink() ? '@' : ''}`,
      ...(e.isDirectory() ? walk(join(d, e.name), `${rel}${e.name}/`) : []),
    ]);
  const unpack = async (name: string) => {
    const dir = join(t.path, `unpack-${name.replace(/[^a-z0-9]/g, '-')}`);
    const r = await run(['unpack', name, dir]);
    expect(r.stderr).toBe('');
    return join(dir, 'rootfs');
  };

  beforeEach(async () => {
    t = await tempDir('lade-build-stages-');
    root = join(t.path, 'store');
    ctx = join(t.path, 'ctx');
    mkdirSync(join(ctx, 'src/sub'), { recursive: true });
    writeFileSync(join(ctx, 'src/a.txt'), 'a\n');
    writeFileSync(join(ctx, 'src/sub/c.txt'), 'c\n');
    symlinkSync('a.txt', join(ctx, 'src/link'));
    writeFileSync(join(ctx, 'trigger.txt'), 'triggered\n');
  });
  afterEach(() => t.cleanup());

  const MULTI = [
    'ARG BASE=scratch',
    'FROM ${BASE} AS builder',
    'COPY --chown=7:8 src /out/',
    'ENV IN_BUILDER=1',
    'FROM scratch AS unused',
    'COPY does-not-exist /x',
    'FROM builder AS mid',
    'ENV FROM_MID=1',
    'FROM scratch',
    'COPY --from=mid /out /app',
    'COPY --from=0 /out/a.txt /single.txt',
    'COPY --from=builder /out/link /out/sub /both/',
    'ENTRYPOINT ["/app/a.txt"]',
    '',
  ].join('\n');

  it('builds the last stage from earlier ones, skipping the stages it does not need', async () => {
    const r = await build('multi', MULTI);
    // The `unused` stage would fail (its source is missing): it is never built.
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const c = await config('multi');
    expect(c.rootfs.diff_ids).toHaveLength(3);
    expect(c.config?.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    // BuildKit's history text leaves --from out (and keeps --chown/--chmod).
    expect(c.history?.map((h) => h.created_by)).toEqual([
      'COPY /out /app # buildkit',
      'COPY /out/a.txt /single.txt # buildkit',
      'COPY /out/link /out/sub /both/ # buildkit',
      'ENTRYPOINT ["/app/a.txt"]',
    ]);
    const rootfs = await unpack('multi');
    expect(walk(rootfs).sort()).toEqual(
      [
        'app/',
        'app/a.txt',
        'app/link@',
        'app/sub/',
        'app/sub/c.txt',
        'both/',
        'both/c.txt',
        'both/link',
        'single.txt',
      ].sort(),
    );
    // Ownership and modes come with the files from the other stage; a symlink named as a source is followed.
    expect(statSync(join(rootfs, 'app/sub/c.txt')).uid).toBe(7);
    expect(statSync(join(rootfs, 'app/sub/c.txt')).gid).toBe(8);
    expect(readFileSync(join(rootfs, 'single.txt'), 'utf8')).toBe('a\n');
    expect(readFileSync(join(rootfs, 'both/link'), 'utf8')).toBe('a\n');
  });

  it('builds the --target stage with the stages it stands on, its config and history', async () => {
    const r = await build('mid', MULTI, ['--target', 'MID']);
    expect(r.stderr).toBe('');
    const c = await config('mid');
    expect(c.rootfs.diff_ids).toHaveLength(1);
    expect(c.config?.Env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'IN_BUILDER=1',
      'FROM_MID=1',
    ]);
    expect(c.history?.map((h) => h.created_by)).toEqual([
      'COPY --chown=7:8 src /out/ # buildkit',
      'ENV IN_BUILDER=1',
      'ENV FROM_MID=1',
    ]);
    expect(walk(await unpack('mid')).sort()).toEqual(['out/', 'out/a.txt', 'out/link@', 'out/sub/', 'out/sub/c.txt']);
    // The stage that copies a missing file fails when it is the target.
    const bad = await build('unused', MULTI, ['--target', 'unused']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Dockerfile:6: "does-not-exist" matches no file in the build context');
  });

  it('names the stages when --target names none of them, and stores nothing', async () => {
    const r = await build('nope', MULTI, ['--target', 'missing']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error: target stage "missing" could not be found; the Dockerfile names builder, unused, mid\n',
    );
    expect(await tags()).toEqual([]);
  });

  it('copies --from an image in the store, and names one that is missing', async () => {
    writeFileSync(join(ctx, 'lib.so'), 'library\n');
    expect((await build('lib:1', 'FROM scratch\nCOPY --chmod=640 lib.so /usr/lib/lib.so\n')).stderr).toBe('');
    const r = await build('app', 'FROM scratch\nCOPY --from=lib:1 /usr/lib/lib.so /lib/\n');
    expect(r.stderr).toBe('');
    const rootfs = await unpack('app');
    expect(readFileSync(join(rootfs, 'lib/lib.so'), 'utf8')).toBe('library\n');
    expect(statSync(join(rootfs, 'lib/lib.so')).mode & 0o777).toBe(0o640);
    const missing = await build('app2', 'FROM scratch\nCOPY --from=127.0.0.1:9/nowhere:1 /x /x\n');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^Error: Dockerfile:2: image of COPY --from "127\.0\.0\.1:9\/nowhere:1" is neither in the local store nor pullable: .+\n$/,
    );
    const absent = await build('app3', 'FROM scratch\nCOPY --from=lib:1 /nothing /x\n');
    expect(absent.stderr).toBe(
      'Error: Dockerfile:2: "/nothing" is not in --from=lib:1; check the path (it is relative to that root)\n',
    );
    expect(await tags()).toEqual(['app:latest', 'lib:1']);
  });

  it('refuses COPY --from a stage index that is this or a later stage', async () => {
    const r = await build('later', 'FROM scratch AS one\nCOPY --from=1 /x /x\nFROM scratch\nCOPY --from=one /x /y\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "Error: Dockerfile:2: --from=1 refers to this or a later stage; give an earlier stage's name or index\n",
    );
  });

  it('uses ARGs declared before FROM in FROM lines (with --build-arg), and only in stages that declare them again', async () => {
    writeFileSync(join(ctx, 'one'), '1\n');
    writeFileSync(join(ctx, 'two'), '2\n');
    await build('base:1', 'FROM scratch\nCOPY one /version\n');
    await build('base:2', 'FROM scratch\nCOPY two /version\n');
    const df = 'ARG TAG=1\nARG UNSEEN=global\nFROM base:${TAG}\nARG TAG\nENV SEEN=$TAG NOT_SEEN=x${UNSEEN}\n';
    expect((await build('argd', df)).stderr).toBe('');
    expect((await config('argd')).config?.Env).toContain('SEEN=1');
    expect((await config('argd')).config?.Env).toContain('NOT_SEEN=x');
    expect(readFileSync(join(await unpack('argd'), 'version'), 'utf8')).toBe('1\n');
    expect((await build('argd2', df, ['--build-arg', 'TAG=2'])).stderr).toBe('');
    expect(readFileSync(join(await unpack('argd2'), 'version'), 'utf8')).toBe('2\n');
    expect((await config('argd2')).config?.Env).toContain('SEEN=2');
  });

  it('records ONBUILD triggers in the config and runs them right after FROM in a later build, then drops them', async () => {
    const r = await build(
      'onb:1',
      'FROM scratch\nONBUILD COPY trigger.txt /triggered.txt\nONBUILD ENV TRIGGERED=$HOME\nCMD ["x"]\n',
    );
    expect(r.stderr).toBe('');
    const base = await config('onb:1');
    expect(base.config?.OnBuild).toEqual(['COPY trigger.txt /triggered.txt', 'ENV TRIGGERED=$HOME']);
    expect(base.history?.map((h) => [h.created_by, h.empty_layer])).toEqual([
      ['ONBUILD COPY trigger.txt /triggered.txt', true],
      ['ONBUILD ENV TRIGGERED=$HOME', true],
      ['CMD ["x"]', true],
    ]);
    expect(base.rootfs.diff_ids).toEqual([]);
    const child = await build('child', 'FROM onb:1\nENV HOME=/root\nCOPY src/a.txt /a.txt\n');
    expect(child.stderr).toBe('');
    const c = await config('child');
    expect(c.config?.OnBuild).toBeUndefined();
    expect(c.config?.Env).toContain('TRIGGERED=');
    expect(c.rootfs.diff_ids).toHaveLength(2);
    expect(c.history?.slice(3).map((h) => h.created_by)).toEqual([
      'COPY trigger.txt /triggered.txt # buildkit',
      'ENV TRIGGERED=',
      'ENV HOME=/root',
      'COPY src/a.txt /a.txt # buildkit',
    ]);
    expect(readFileSync(join(await unpack('child'), 'triggered.txt'), 'utf8')).toBe('triggered\n');
  });

  it('runs the ONBUILD triggers of an earlier stage used in FROM', async () => {
    const r = await build('staged', 'FROM scratch AS base\nONBUILD COPY trigger.txt /t.txt\nFROM base\nLABEL x=y\n');
    expect(r.stderr).toBe('');
    const c = await config('staged');
    expect(c.config?.OnBuild).toBeUndefined();
    expect(c.history?.map((h) => h.created_by)).toEqual([
      'ONBUILD COPY trigger.txt /t.txt',
      'COPY trigger.txt /t.txt # buildkit',
      'LABEL x=y',
    ]);
  });

  it('refuses ONBUILD ONBUILD, ONBUILD FROM and ONBUILD MAINTAINER, and a RUN trigger of a base image', async () => {
    const cases: [string, string][] = [
      [
        'FROM scratch\nONBUILD ONBUILD COPY a /a\n',
        'Error: Dockerfile:2: chaining ONBUILD via `ONBUILD ONBUILD` is not allowed; give the trigger once\n',
      ],
      [
        'FROM scratch\nONBUILD FROM x\n',
        'Error: Dockerfile:2: FROM is not allowed as an ONBUILD trigger; use another instruction\n',
      ],
      [
        'FROM scratch\nONBUILD maintainer me\n',
        'Error: Dockerfile:2: MAINTAINER is not allowed as an ONBUILD trigger; use another instruction\n',
      ],
    ];
    for (const [df, message] of cases) {
      const r = await build('bad', df);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(message);
    }
    expect((await build('runs', 'FROM scratch\nONBUILD RUN make\n')).stderr).toBe('');
    expect((await config('runs')).config?.OnBuild).toEqual(['RUN make']);
    const child = await build('child', 'FROM scratch\nLABEL a=b\nFROM runs\n');
    expect(child.code).toBe(1);
    expect(child.stderr).toBe(
      'Error: Dockerfile:3: the ONBUILD trigger "RUN make" of runs is a RUN, which needs a container runtime; lade builds images without one\n',
    );
    expect(await tags()).toEqual(['runs:latest']);
  });
  it('gives FROM lines and declaring stages the automatic platform ARGs, and writes expanded COPY history text', async () => {
    writeFileSync(join(ctx, 'one'), '1\n');
    expect((await build('x-arm64:1', 'FROM scratch\nCOPY one /v\n', ['--platform', 'linux/arm64'])).stderr).toBe('');
    const df = [
      'FROM x-${TARGETARCH}:1',
      'ARG TARGETPLATFORM',
      'ARG TARGETOS',
      'ARG D=/dest',
      'ARG U=7',
      'ENV P=$TARGETPLATFORM O=$TARGETOS A=x$TARGETARCH',
      'COPY --chmod=600 --chown=${U} one $D/',
      '',
    ].join('\n');
    const r = await build('auto', df, ['--platform', 'linux/arm64']);
    expect(r.stderr).toBe('');
    const c = await config('auto');
    expect(c.architecture).toBe('arm64');
    // TARGETARCH is not declared in the stage, so it is empty there.
    expect(c.config?.Env?.slice(1)).toEqual(['P=linux/arm64', 'O=linux', 'A=x']);
    expect(c.history?.at(-1)?.created_by).toBe('COPY --chown=7 --chmod=600 one /dest/ # buildkit');
  });
  it('declares several ARGs on one line (later defaults see earlier ones) and checks stage names', async () => {
    const r = await build('args', 'FROM scratch\nARG A=1 B=${A}2 C\nENV X=$A$B$C\n', ['--build-arg', 'C=3']);
    expect(r.stderr).toBe('');
    const c = await config('args');
    expect(c.config?.Env).toContain('X=1123');
    expect(c.history?.[0]?.created_by).toBe('ARG A=1 B=12 C=3');
    const bad = await build('bad', 'FROM scratch AS 1st\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      `Error: Dockerfile:1: invalid stage name "1st"; start with a letter and use letters, digits, '-', '_' and '.'\n`,
    );
    const twice = await build('bad', 'FROM scratch AS a\nFROM scratch AS A\n');
    expect(twice.stderr).toBe(
      'Error: Dockerfile:2: the stage name "a" is already used; give each stage its own name\n',
    );
  });
  it('copies big files and hardlinks --from a stage (a link whose target stays behind becomes a file)', async () => {
    const big = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i * 7) % 251);
    writeFileSync(join(ctx, 'big'), big);
    const tar = new Uint8Array(
      await new Response(
        writeTar([
          { header: { name: 'pkg/', type: 'directory' } },
          { header: { name: 'pkg/file', mode: 0o755 }, body: 'linked\n' },
          { header: { name: 'pkg/link', type: 'hardlink', linkname: 'pkg/file' } },
        ]),
      ).arrayBuffer(),
    );
    writeFileSync(join(ctx, 'pkg.tar'), tar);
    const r = await build(
      'bigcopy',
      'FROM scratch AS a\nCOPY big /big\nADD pkg.tar /opt/\nFROM scratch\nCOPY --from=a /big /big2\nCOPY --from=a /opt/pkg /pkg\nCOPY --from=a /opt/pkg/link /only-link\n',
    );
    expect(r.stderr).toBe('');
    const rootfs = await unpack('bigcopy');
    expect(new Uint8Array(readFileSync(join(rootfs, 'big2')))).toEqual(big);
    expect(readFileSync(join(rootfs, 'only-link'), 'utf8')).toBe('linked\n');
    expect(statSync(join(rootfs, 'only-link')).mode & 0o777).toBe(0o755);
    // Copied together, the link stays a hardlink of its target.
    expect(statSync(join(rootfs, 'pkg/link')).ino).toBe(statSync(join(rootfs, 'pkg/file')).ino);
  });

  describe.runIf(peersAvailable('docker-registry'))('images the store lacks', () => {
    it('pulls the FROM and COPY --from images from a registry, as docker does', async () => {
      const registry = await startRegistry();
      try {
        writeFileSync(join(ctx, 'lib.so'), 'library\n');
        const ref = `${registry.host}/lade/lib:1`;
        expect((await build(ref, 'FROM scratch\nCOPY lib.so /usr/lib/lib.so\nENV FROM_BASE=1\n')).stderr).toBe('');
        const push = await lade(t.path, ['--root', root, '--insecure-registry', registry.host, 'push', ref]);
        expect(push.code, push.stderr).toBe(0);
        // A fresh store: both images come from the registry.
        root = join(t.path, 'fresh-store');
        const r = await build('pulled', `FROM ${ref}\nCOPY --from=${ref} /usr/lib/lib.so /copied.so\n`);
        expect(r.stderr).toBe('');
        const c = await config('pulled');
        expect(c.config?.Env).toContain('FROM_BASE=1');
        expect(c.rootfs.diff_ids).toHaveLength(2);
        const rootfs = await unpack('pulled');
        expect(readFileSync(join(rootfs, 'usr/lib/lib.so'), 'utf8')).toBe('library\n');
        expect(readFileSync(join(rootfs, 'copied.so'), 'utf8')).toBe('library\n');
        expect(await tags()).toEqual([ref, 'pulled:latest'].sort());
        const gone = await build('gone', `FROM ${registry.host}/lade/missing:1\n`);
        expect(gone.code).toBe(1);
        expect(gone.stderr).toContain(
          `Error: Dockerfile:1: base image "${registry.host}/lade/missing:1" is neither in the local store nor pullable: `,
        );
      } finally {
        await registry.stop();
      }
    });
  });
});
