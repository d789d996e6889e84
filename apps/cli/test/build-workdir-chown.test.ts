import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decompress, readTar } from '@lade/archive';
import { loadImage } from '@lade/rootfs';
import { ImageStore } from '@lade/store';
import { tempDir } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lade } from './helpers.js';

interface LayerEntry {
  readonly name: string;
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002:App:/home/app:/bin/sh\nweb:x:33:33::/var/www:/bin/sh\n';
const GROUP = 'root:x:0:\napp:x:1002:\nstaff:x:50:app\n';

describe('lade build: WORKDIR directories and --chown names', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let ctx: string;
  const run = (args: string[], env: Record<string, string> = {}) => lade(t.path, ['--root', root, ...args], { env });
  const build = (name: string, dockerfile: string, extra: string[] = []) => {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    return run(['build', '-q', '-t', name, ...extra, ctx]);
  };
  const image = async (name: string) => loadImage((await ImageStore.open(root)).source(name));
  /** The entries of layer `index` (negative: from the top) of an image in the store. */
  const layer = async (name: string, index: number): Promise<LayerEntry[]> => {
    const store = await ImageStore.open(root);
    const source = store.source(name);
    const img = await loadImage(source);
    const desc = img.layers.at(index);
    if (!desc) throw new Error(`no layer ${index}`);
    const { stream } = await decompress(await source.openBlob(desc));
    const out: LayerEntry[] = [];
    for await (const e of readTar(stream))
      out.push({ name: e.header.name, type: e.header.type, mode: e.header.mode, uid: e.header.uid, gid: e.header.gid });
    return out;
  };
  const tags = async () => (await (await ImageStore.open(root)).listImages()).flatMap((i) => i.repoTags);
  const unpack = async (name: string) => {
    const dir = join(t.path, `unpack-${name.replace(/[^a-z0-9]/g, '-')}`);
    const r = await run(['unpack', name, dir]);
    expect(r.stderr).toBe('');
    return join(dir, 'rootfs');
  };

  beforeEach(async () => {
    t = await tempDir('lade-build-wd-');
    root = join(t.path, 'store');
    ctx = join(t.path, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'passwd'), PASSWD);
    writeFileSync(join(ctx, 'group'), GROUP);
    for (const f of ['a', 'b', 'c', 'd']) writeFileSync(join(ctx, f), `${f}\n`);
  });
  afterEach(() => t.cleanup());

  /** An image with /etc/passwd and /etc/group, as a distribution base has them. */
  const usersBase = async () => {
    const r = await build('users:1', 'FROM scratch\nCOPY passwd /etc/passwd\nCOPY group /etc/group\n');
    expect(r.stderr).toBe('');
  };

  it('makes the WORKDIR directory and its parents (0755, root) in a layer of its own, and in the unpacked tree', async () => {
    const r = await build('wd', 'FROM scratch\nWORKDIR /srv/app\nCOPY a ./\n');
    expect(r.stderr).toBe('');
    const img = await image('wd');
    expect(img.config.config.rootfs.diff_ids).toHaveLength(2);
    expect(img.config.config.history?.map((h) => [h.created_by, h.empty_layer ?? false])).toEqual([
      ['WORKDIR /srv/app', false],
      ['COPY a ./ # buildkit', false],
    ]);
    expect(await layer('wd', 0)).toEqual([
      { name: 'srv/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
      { name: 'srv/app/', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
    ]);
    // The COPY into the workdir does not repeat the directories WORKDIR made.
    expect((await layer('wd', 1)).map((e) => e.name)).toEqual(['srv/app/a']);
    const rootfs = await unpack('wd');
    expect(statSync(join(rootfs, 'srv/app')).isDirectory()).toBe(true);
    expect(statSync(join(rootfs, 'srv/app')).mode & 0o777).toBe(0o755);
    expect(existsSync(join(rootfs, 'srv/app/a'))).toBe(true);
  });

  it('owns the WORKDIR directories by USER from the image /etc/passwd, by a numeric USER as given, and by root for an unknown name', async () => {
    await usersBase();
    const r = await build(
      'wd-user',
      'FROM users:1\nUSER app\nWORKDIR /home/app/data\nUSER 7:9\nWORKDIR /n\nUSER ghost\nWORKDIR /g\nUSER web:staff\nWORKDIR /w\n',
    );
    expect(r.stderr).toBe('');
    expect(await layer('wd-user', -4)).toEqual([
      { name: 'home/', type: 'directory', mode: 0o755, uid: 1001, gid: 1002 },
      { name: 'home/app/', type: 'directory', mode: 0o755, uid: 1001, gid: 1002 },
      { name: 'home/app/data/', type: 'directory', mode: 0o755, uid: 1001, gid: 1002 },
    ]);
    expect(await layer('wd-user', -3)).toEqual([{ name: 'n/', type: 'directory', mode: 0o755, uid: 7, gid: 9 }]);
    expect(await layer('wd-user', -2)).toEqual([{ name: 'g/', type: 'directory', mode: 0o755, uid: 0, gid: 0 }]);
    expect(await layer('wd-user', -1)).toEqual([{ name: 'w/', type: 'directory', mode: 0o755, uid: 33, gid: 50 }]);
    const rootfs = await unpack('wd-user');
    expect(statSync(join(rootfs, 'home/app/data')).uid).toBe(1001);
  });

  it('adds no layer for a WORKDIR that exists (or is /), and refuses one that is a file', async () => {
    await usersBase();
    const r = await build('wd-exists', 'FROM users:1\nWORKDIR /etc\nWORKDIR /\n');
    expect(r.stderr).toBe('');
    const c = (await image('wd-exists')).config.config;
    expect(c.rootfs.diff_ids).toHaveLength(2);
    expect(c.history?.slice(-2)).toEqual([
      {
        created: '1970-01-01T00:00:00Z',
        created_by: 'WORKDIR /etc',
        comment: 'buildkit.dockerfile.v0',
        empty_layer: true,
      },
      {
        created: '1970-01-01T00:00:00Z',
        created_by: 'WORKDIR /',
        comment: 'buildkit.dockerfile.v0',
        empty_layer: true,
      },
    ]);
    const bad = await build('wd-file', 'FROM users:1\n\nWORKDIR /etc/passwd/x\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'Error: Dockerfile:3: WORKDIR /etc/passwd/x: /etc/passwd exists and is not a directory; choose another path\n',
    );
    expect(await tags()).toContain('wd-exists:latest');
    expect(await tags()).not.toContain('wd-file:latest');
  });

  it('resolves --chown user and group names from the base image /etc/passwd and /etc/group', async () => {
    await usersBase();
    const r = await build(
      'owned',
      'FROM users:1\nCOPY --chown=app:staff a /x/a\nCOPY --chown=app b /x/b\nCOPY --chown=1005 c /x/c\nADD --chown=web:1 d /x/d\n',
    );
    expect(r.stderr).toBe('');
    const owner = async (i: number) => (await layer('owned', i)).map((e) => [e.name, e.uid, e.gid]);
    // The parent /x made for the first COPY is owned like the files it copies.
    expect(await owner(-4)).toEqual([
      ['x/', 1001, 50],
      ['x/a', 1001, 50],
    ]);
    expect(await owner(-3)).toEqual([['x/b', 1001, 1002]]);
    expect(await owner(-2)).toEqual([['x/c', 1005, 1005]]);
    expect(await owner(-1)).toEqual([['x/d', 33, 1]]);
    const c = (await image('owned')).config.config;
    expect(c.history?.slice(-4).map((h) => h.created_by)).toEqual([
      'COPY --chown=app:staff a /x/a # buildkit',
      'COPY --chown=app b /x/b # buildkit',
      'COPY --chown=1005 c /x/c # buildkit',
      'ADD --chown=web:1 d /x/d # buildkit',
    ]);
    const rootfs = await unpack('owned');
    expect(statSync(join(rootfs, 'x/a')).uid).toBe(1001);
    expect(statSync(join(rootfs, 'x/a')).gid).toBe(50);
  });

  it('sees an /etc/passwd an earlier COPY of the same build wrote, and a later one that replaces it', async () => {
    writeFileSync(join(ctx, 'passwd2'), 'app:x:2001:2002::/:/bin/sh\n');
    const r = await build(
      'same-build',
      'FROM scratch\nCOPY passwd /etc/passwd\nCOPY --chown=app a /a\nCOPY passwd2 /etc/passwd\nCOPY --chown=app b /b\n',
    );
    expect(r.stderr).toBe('');
    expect((await layer('same-build', 1)).map((e) => [e.name, e.uid, e.gid])).toEqual([['a', 1001, 1002]]);
    expect((await layer('same-build', 3)).map((e) => [e.name, e.uid, e.gid])).toEqual([['b', 2001, 2002]]);
  });

  it('follows a symlinked /etc/passwd inside the image', async () => {
    await build('linked-base', 'FROM scratch\nCOPY passwd /usr/lib/passwd\n');
    const { symlinkSync } = await import('node:fs');
    mkdirSync(join(ctx, 'etc'));
    symlinkSync('../usr/lib/passwd', join(ctx, 'etc/passwd'));
    const r = await build('linked', 'FROM linked-base\nCOPY etc /etc\nCOPY --chown=web a /a\n');
    expect(r.stderr).toBe('');
    expect((await layer('linked', -1)).map((e) => [e.name, e.uid, e.gid])).toEqual([['a', 33, 33]]);
  });

  it('fails with one line naming an unknown user or group and the line, and stores nothing', async () => {
    await usersBase();
    const cases: [string, string][] = [
      [
        'FROM users:1\n\nCOPY --chown=ghost a /a\n',
        'Error: Dockerfile:3: COPY --chown=ghost: the image has no user "ghost" in /etc/passwd; add it first or give a numeric ID\n',
      ],
      [
        'FROM users:1\nADD --chown=app:nogroup a /a\n',
        'Error: Dockerfile:2: ADD --chown=app:nogroup: the image has no group "nogroup" in /etc/group; add it first or give a numeric ID\n',
      ],
      [
        'FROM scratch\nCOPY --chown=app a /a\n',
        'Error: Dockerfile:2: COPY --chown=app: the image has no user "app" in /etc/passwd; add it first or give a numeric ID\n',
      ],
    ];
    for (const [dockerfile, message] of cases) {
      const r = await build('bad-owner', dockerfile);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(message);
    }
    expect((await tags()).sort()).toEqual(['users:1']);
  });
  it('copies into a destination that exists as a directory even without a trailing slash, as BuildKit does', async () => {
    await usersBase();
    const r = await build('into', 'FROM users:1\nCOPY a /etc\nWORKDIR /etc\nCOPY b .\nCOPY c /new\n');
    expect(r.stderr).toBe('');
    expect((await layer('into', 2)).map((e) => e.name)).toEqual(['etc/a']);
    expect((await layer('into', 3)).map((e) => e.name)).toEqual(['etc/b']);
    // A path that does not exist yet is the file's own name.
    expect((await layer('into', 4)).map((e) => e.name)).toEqual(['new']);
  });
});
