import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTar } from '@lade/archive';
import { loadImage } from '@lade/rootfs';
import { ImageStore } from '@lade/store';
import { describeTree, peersAvailable, runOk, startRegistry, tempDir, treeDifferences } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lade } from './helpers.js';

async function tarFile(path: string): Promise<void> {
  const bytes = new Uint8Array(
    await new Response(
      writeTar([
        { header: { name: 'bin/', type: 'directory', mtime: 1_600_000_000 } },
        { header: { name: 'bin/sh', mode: 0o755, mtime: 1_600_000_000 }, body: '#!fake shell\n' },
        { header: { name: 'etc/', type: 'directory', mtime: 1_600_000_000 } },
        { header: { name: 'etc/os-release', mtime: 1_600_000_000 }, body: 'ID=lade\n' },
        { header: { name: 'etc/old.conf', mtime: 1_600_000_000 }, body: 'old\n' },
        { header: { name: 'var/lib/data/', type: 'directory', mtime: 1_600_000_000 } },
        { header: { name: 'var/lib/data/a', mtime: 1_600_000_000 }, body: 'a\n' },
      ]),
    ).arrayBuffer(),
  );
  writeFileSync(path, bytes);
}

describe('lade unpack, diff, commit, export, import', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  let root: string;
  const run = (args: string[], stdin?: Uint8Array) => lade(t.path, ['--root', root, ...args], stdin ? { stdin } : {});
  const config = async (name: string, storeRoot = root) =>
    (await loadImage((await ImageStore.open(storeRoot)).source(name))).config.config;

  beforeEach(async () => {
    t = await tempDir('lade-rootfs-cli-');
    root = join(t.path, 'store');
    await tarFile(join(t.path, 'base.tar'));
    const r = await run([
      'image',
      'import',
      '-c',
      'CMD ["sh"]',
      '-m',
      'first import',
      join(t.path, 'base.tar'),
      'base:1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  });
  afterEach(() => t.cleanup());

  function modify(rootfs: string): void {
    writeFileSync(join(rootfs, 'etc/os-release'), 'ID=lade\nVERSION=2\n');
    rmSync(join(rootfs, 'etc/old.conf'));
    rmSync(join(rootfs, 'var/lib/data'), { recursive: true });
    mkdirSync(join(rootfs, 'var/lib/data'));
    writeFileSync(join(rootfs, 'var/lib/data/b'), 'b\n');
    mkdirSync(join(rootfs, 'srv'));
    writeFileSync(join(rootfs, 'srv/app'), 'app\n');
    chmodSync(join(rootfs, 'srv/app'), 0o4755);
  }

  it('imports a tarball as a one-layer image with the changes and message applied', async () => {
    const c = await config('base:1');
    expect(c.rootfs.diff_ids).toHaveLength(1);
    expect(c.config?.Cmd).toEqual(['sh']);
    expect(c.history).toEqual([{ created: c.created, comment: 'first import' }]);
    const fromStdin = await run(['import', '-', 'piped:1'], readFileSync(join(t.path, 'base.tar')));
    expect(fromStdin.stderr).toBe('');
    expect((await config('piped:1')).rootfs.diff_ids).toEqual(c.rootfs.diff_ids);
    expect((await config('piped:1')).history?.[0]?.comment).toBe('Imported from -');
  });

  it('unpacks into DIR/rootfs with a record, lists changes like docker diff, and commits them as a new layer', async () => {
    const bundle = join(t.path, 'bundle');
    expect(await run(['unpack', 'base:1', bundle])).toMatchObject({ code: 0, stderr: '' });
    expect(readdirSync(bundle).sort()).toEqual(['lade-unpack.json', 'rootfs']);
    modify(join(bundle, 'rootfs'));
    const d = await run(['diff', bundle]);
    expect(d.stdout).toBe(
      [
        'C /etc',
        'D /etc/old.conf',
        'C /etc/os-release',
        'A /srv',
        'A /srv/app',
        'C /var/lib',
        'C /var/lib/data',
        'A /var/lib/data/b',
        '',
      ].join('\n'),
    );
    const c = await run([
      'commit',
      '-m',
      'second',
      '-a',
      'Lade Tester <t@example.com>',
      '-c',
      'ENV K=V',
      '-c',
      'CMD ["/srv/app"]',
      bundle,
      'next:1',
    ]);
    expect(c.stderr).toBe('');
    expect(c.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const cfg = await config('next:1');
    expect(cfg.rootfs.diff_ids).toHaveLength(2);
    expect(cfg.author).toBe('Lade Tester <t@example.com>');
    expect(cfg.config?.Env).toEqual(['K=V']);
    expect(cfg.config?.Cmd).toEqual(['/srv/app']);
    expect(cfg.history?.[1]).toMatchObject({
      comment: 'second',
      author: 'Lade Tester <t@example.com>',
      created_by: 'lade commit',
    });

    // The committed image unpacks to the modified tree.
    const again = join(t.path, 'again');
    expect((await run(['unpack', 'next:1', again])).stderr).toBe('');
    expect(treeDifferences(describeTree(join(again, 'rootfs')), describeTree(join(bundle, 'rootfs')))).toEqual([]);

    // export: the flattened tar extracts to the same tree
    const out = join(t.path, 'flat.tar');
    expect(await run(['export', 'next:1', '-o', out])).toMatchObject({ code: 0, stderr: '' });
    const x = join(t.path, 'x');
    mkdirSync(x);
    await runOk('tar', ['-xpf', out, '-C', x, '--same-owner']);
    expect(treeDifferences(describeTree(x), describeTree(join(bundle, 'rootfs')))).toEqual([]);
  });

  it('exports to stdout when it is not a terminal, and refuses a terminal', async () => {
    const r = await run(['export', 'base:1']);
    expect(r.code).toBe(0);
    const listing = new Set<string>();
    const { readTar } = await import('@lade/archive');
    for await (const e of readTar(new Response(r.stdoutBytes as BodyInit).body as ReadableStream<Uint8Array>))
      listing.add(e.header.name);
    expect([...listing].sort()).toEqual([
      'bin/',
      'bin/sh',
      'etc/',
      'etc/old.conf',
      'etc/os-release',
      'var/',
      'var/lib/',
      'var/lib/data/',
      'var/lib/data/a',
    ]);
    const tty = await lade(t.path, ['--root', root, 'export', 'base:1'], { stdoutIsTTY: true });
    expect(tty.code).toBe(1);
    expect(tty.stderr).toContain('cowardly refusing');
    expect(tty.stdoutBytes.length).toBe(0);
  });

  it('commits the same changes to the same layer (diff determinism across two unpacks)', async () => {
    const ids: string[] = [];
    for (const name of ['one', 'two']) {
      const bundle = join(t.path, name);
      await run(['unpack', 'base:1', bundle]);
      modify(join(bundle, 'rootfs'));
      const env = { SOURCE_DATE_EPOCH: '1700000000' };
      const r = await lade(t.path, ['--root', root, 'commit', bundle, `${name}:1`], { env });
      expect(r.stderr).toBe('');
      ids.push((await config(`${name}:1`)).rootfs.diff_ids[1] as string);
    }
    expect(ids[0]).toBe(ids[1]);
  });

  it('refuses a non-empty unpack target and a directory that lade did not unpack, writing nothing', async () => {
    const full = join(t.path, 'full');
    mkdirSync(full);
    writeFileSync(join(full, 'keep'), 'x');
    const r = await run(['unpack', 'base:1', full]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not empty');
    expect(readdirSync(full)).toEqual(['keep']);
    const d = await run(['diff', full]);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('is not a bundle made by lade unpack');
    const missing = await run(['unpack', 'nothing:1', join(t.path, 'new')]);
    expect(missing.code).toBe(1);
    expect(existsSync(join(t.path, 'new', 'rootfs'))).toBe(false);
  });

  it('refuses to commit against a base the directory was not unpacked from, creating no image', async () => {
    await tarFile(join(t.path, 'other.tar'));
    await run(['image', 'import', '-c', 'CMD ["other"]', join(t.path, 'other.tar'), 'other:1']);
    const bundle = join(t.path, 'b');
    await run(['unpack', 'base:1', bundle]);
    const r = await run(['commit', '--base', 'other:1', bundle, 'wrong:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('was unpacked from image');
    expect((await (await ImageStore.open(root)).listImages()).map((i) => i.repository ?? '')).not.toContain('wrong');
  });

  describe.runIf(peersAvailable('umoci'))('read by umoci', () => {
    it('unpacks a committed image (whiteouts, an opaque directory, setuid) to the committed tree', async () => {
      const bundle = join(t.path, 'bundle');
      await run(['unpack', 'base:1', bundle]);
      modify(join(bundle, 'rootfs'));
      expect((await run(['commit', bundle, 'next:1'])).stderr).toBe('');
      const theirs = join(t.path, 'umoci');
      await runOk('umoci', ['unpack', '--image', `${root}:next:1`, theirs]);
      expect(treeDifferences(describeTree(join(theirs, 'rootfs')), describeTree(join(bundle, 'rootfs')))).toEqual([]);
    });
  });

  describe.runIf(peersAvailable('docker-registry'))('through a registry', () => {
    it('commit → push → pull → unpack gives the modified tree back', async () => {
      const registry = await startRegistry();
      try {
        const bundle = join(t.path, 'bundle');
        await run(['unpack', 'base:1', bundle]);
        modify(join(bundle, 'rootfs'));
        expect((await run(['commit', '-m', 'pushed', bundle, `${registry.host}/lade/rt:1`])).stderr).toBe('');
        const push = await lade(t.path, [
          '--root',
          root,
          '--insecure-registry',
          registry.host,
          'push',
          `${registry.host}/lade/rt:1`,
        ]);
        expect(push.code, push.stderr).toBe(0);
        const other = join(t.path, 'other-store');
        const pull = await lade(t.path, [
          '--root',
          other,
          '--insecure-registry',
          registry.host,
          'pull',
          `${registry.host}/lade/rt:1`,
        ]);
        expect(pull.code, pull.stderr).toBe(0);
        const out = join(t.path, 'pulled');
        const u = await lade(t.path, ['--root', other, 'unpack', `${registry.host}/lade/rt:1`, out]);
        expect(u.stderr).toBe('');
        expect(treeDifferences(describeTree(join(out, 'rootfs')), describeTree(join(bundle, 'rootfs')))).toEqual([]);
        expect((await config(`${registry.host}/lade/rt:1`, other)).history?.[1]?.comment).toBe('pushed');
      } finally {
        await registry.stop();
      }
    });
  });
});
