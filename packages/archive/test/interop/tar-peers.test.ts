import { chmod, chown, link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { peersAvailable, runOk, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTar, type TarHeader, type TarWriteEntry, writeTar } from '../../src/index.js';
import { collect, fileStream } from '../helpers.js';

let tmp: { path: string; cleanup: () => Promise<void> };
let full: string;
let basic: string;
let plain: string;

/** A tree with every entry type: files, setuid, directories, symlinks, hardlinks, fifo, devices, long and non-ASCII names, big ids. */
async function buildTree(root: string, withExtras: boolean, withFifo = true): Promise<void> {
  await mkdir(join(root, 'dir/sub'), { recursive: true });
  await writeFile(join(root, 'dir/file.txt'), 'hello tar\n');
  await writeFile(join(root, 'dir/sub/blob.bin'), Buffer.alloc(70_000, 7));
  await writeFile(join(root, 'setuid'), '#!/bin/sh\n');
  await chmod(join(root, 'setuid'), 0o4755);
  await symlink('dir/file.txt', join(root, 'link'));
  await link(join(root, 'dir/file.txt'), join(root, 'hard'));
  if (withFifo) await runOk('mkfifo', [join(root, 'fifo')]);
  if (withExtras) {
    await runOk('mknod', [join(root, 'null'), 'c', '1', '3']);
    await runOk('mknod', [join(root, 'sda'), 'b', '8', '0']);
    const deep = join(root, `${'long-directory-name-'.repeat(6)}/${'x'.repeat(120)}`);
    await mkdir(join(root, `${'long-directory-name-'.repeat(6)}`));
    await writeFile(deep, 'deep\n');
    await writeFile(join(root, 'ünïcødé-файл.txt'), 'utf8\n');
    await symlink('t'.repeat(150), join(root, 'longlink'));
    await writeFile(join(root, 'owned'), 'o');
    await chown(join(root, 'owned'), 3_000_000, 70_000);
  }
  await runOk('sh', ['-c', `find "${root}" -exec touch -h -d @1700000000 {} +`]);
}

beforeAll(async () => {
  tmp = await tempDir('lade-tar-peers-');
  full = join(tmp.path, 'full');
  basic = join(tmp.path, 'basic');
  await buildTree(full, true);
  await buildTree(basic, false);
  plain = join(tmp.path, 'plain');
  await buildTree(plain, false, false); // v7 has no fifos
});
afterAll(() => tmp.cleanup());

async function readEntries(file: string): Promise<{ header: TarHeader; body: Uint8Array }[]> {
  const out: { header: TarHeader; body: Uint8Array }[] = [];
  for await (const e of readTar(fileStream(file))) out.push({ header: e.header, body: await collect(e.body) });
  return out;
}

/** Re-writes what lade read from a peer's archive with lade's writer. */
async function rewrite(
  entries: { header: TarHeader; body: Uint8Array }[],
  out: string,
  format: 'pax' | 'gnu' = 'pax',
): Promise<void> {
  const write: TarWriteEntry[] = entries.map(({ header: h, body }) => ({
    header: {
      name: h.name,
      type: h.type === 'other' ? 'file' : h.type,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      uname: h.uname,
      gname: h.gname,
      mtime: h.mtime,
      linkname: h.linkname,
      devmajor: h.devmajor,
      devminor: h.devminor,
    },
    body,
  }));
  await writeFile(out, await collect(writeTar(write, { format })));
}

const list = async (tool: 'tar' | 'bsdtar', file: string): Promise<string> =>
  runOk(tool, ['--numeric-owner', '-tvf', file]);

describe.runIf(peersAvailable('tar'))('GNU tar as a peer', () => {
  for (const format of ['gnu', 'oldgnu', 'pax', 'ustar', 'v7'] as const) {
    it(`reads what tar --format=${format} writes, and tar lists lade's rewrite identically`, async () => {
      const tree = format === 'v7' ? plain : format === 'ustar' ? basic : full;
      const peer = join(tmp.path, `peer-${format}.tar`);
      await runOk('tar', [`--format=${format}`, '--sort=name', '-cf', peer, '-C', tree, '.']);
      const entries = await readEntries(peer);
      const file = entries.find((e) => e.header.name === './dir/file.txt');
      expect(new TextDecoder().decode(file!.body)).toBe('hello tar\n');
      expect(
        Buffer.from(entries.find((e) => e.header.name === './dir/sub/blob.bin')!.body).equals(Buffer.alloc(70_000, 7)),
      ).toBe(true);
      expect(entries.find((e) => e.header.name === './link')!.header).toMatchObject({
        type: 'symlink',
        linkname: 'dir/file.txt',
      });
      expect(
        entries.find((e) => e.header.name === './hard')?.header.type ??
          entries.find((e) => e.header.name === './dir/file.txt' && e.header.type === 'hardlink'),
      ).toBeTruthy();
      if (tree === full) {
        expect(entries.find((e) => e.header.name === './owned')!.header).toMatchObject({ uid: 3_000_000, gid: 70_000 });
        expect(entries.find((e) => e.header.name === './null')!.header).toMatchObject({
          type: 'char-device',
          devmajor: 1,
          devminor: 3,
        });
        expect(entries.some((e) => e.header.name === './ünïcødé-файл.txt')).toBe(true);
        expect(entries.some((e) => e.header.name.endsWith('x'.repeat(120)))).toBe(true);
      }
      const mine = join(tmp.path, `lade-from-${format}.tar`);
      await rewrite(entries, mine, format === 'pax' || format === 'ustar' || format === 'v7' ? 'pax' : 'gnu');
      expect(await list('tar', mine)).toBe(await list('tar', peer));
      // tar --compare checks content, mode, owner, mtime and link targets against the tree.
      await runOk('tar', ['--numeric-owner', '-df', mine, '-C', tree]);
    });
  }

  it('expands a sparse file tar wrote in PAX sparse format 1.0', async () => {
    const dir = join(tmp.path, 'sparse');
    await mkdir(dir);
    await runOk('sh', [
      '-c',
      `cd ${dir} && truncate -s 3M holes && printf start | dd of=holes conv=notrunc status=none && printf middle | dd of=holes bs=1 seek=1500000 conv=notrunc status=none && printf end > after`,
    ]);
    const peer = join(tmp.path, 'sparse.tar');
    await runOk('tar', ['--format=pax', '--sparse', '--sparse-version=1.0', '-cf', peer, '-C', dir, 'holes', 'after']);
    const entries = await readEntries(peer);
    expect(entries.map((e) => e.header.name)).toEqual(['holes', 'after']);
    expect(entries[0]!.header.sparse).toMatchObject({ major: 1, minor: 0, expanded: true, realSize: 3 * 1024 * 1024 });
    expect(Buffer.from(entries[0]!.body).equals(await readFile(join(dir, 'holes')))).toBe(true);
    expect(new TextDecoder().decode(entries[1]!.body)).toBe('end');
  });

  it('reads an old GNU sparse entry as its stored data and stays aligned', async () => {
    const dir = join(tmp.path, 'sparse-old');
    await mkdir(dir);
    await runOk('sh', [
      '-c',
      `cd ${dir} && truncate -s 1M holes && printf data | dd of=holes bs=1 seek=600000 conv=notrunc status=none && printf end > after`,
    ]);
    const peer = join(tmp.path, 'sparse-old.tar');
    await runOk('tar', ['--format=gnu', '--sparse', '-cf', peer, '-C', dir, 'holes', 'after']);
    const entries = await readEntries(peer);
    expect(entries[0]!.header).toMatchObject({ name: 'holes', typeflag: 'S', sparse: { expanded: false } });
    expect(new TextDecoder().decode(entries[1]!.body)).toBe('end');
  });

  it('writes base-256 numbers in the GNU format that tar reads', async () => {
    const out = join(tmp.path, 'b256.tar');
    await writeFile(
      out,
      await collect(
        writeTar(
          [{ header: { name: 'big-ids', uid: 3_000_000_000, gid: 9_000_000, mtime: 1_700_000_000 }, body: 'x' }],
          { format: 'gnu' },
        ),
      ),
    );
    expect(await list('tar', out)).toMatch(/3000000000\/9000000 +1 2023-11-14 \d\d:\d\d big-ids/);
  });

  it('writes xattrs and fractional times in PAX records that tar reads', async () => {
    const out = join(tmp.path, 'xattr.tar');
    await writeFile(
      out,
      await collect(
        writeTar([{ header: { name: 'x', mtime: 1_700_000_000.25, xattrs: { 'user.lade': 'yes' } }, body: 'x' }]),
      ),
    );
    const verbose = await runOk('tar', ['--xattrs', '--full-time', '-tvvf', out]);
    expect(verbose).toMatch(/2023-11-14 \d\d:\d\d:20\.25 x/);
  });
});

describe.runIf(peersAvailable('bsdtar'))('bsdtar as a peer', () => {
  for (const format of ['pax', 'ustar', 'gnutar', 'v7'] as const) {
    it(`reads what bsdtar --format ${format} writes, and bsdtar lists lade's rewrite identically`, async () => {
      const tree = format === 'pax' || format === 'gnutar' ? full : format === 'v7' ? plain : basic;
      const peer = join(tmp.path, `bsd-${format}.tar`);
      await runOk('bsdtar', ['--format', format, '-cf', peer, '-C', tree, '.']);
      const entries = await readEntries(peer);
      expect(
        entries.find((e) => e.header.name === './dir/file.txt' && e.header.type === 'file')?.body ??
          entries.find((e) => e.header.name === './hard')?.body,
      ).toBeDefined();
      const mine = join(tmp.path, `lade-from-bsd-${format}.tar`);
      await rewrite(entries, mine, format === 'gnutar' ? 'gnu' : 'pax');
      expect(await list('bsdtar', mine)).toBe(await list('bsdtar', peer));
      await runOk('tar', ['--numeric-owner', '-df', mine, '-C', tree]);
    });
  }

  it('lists an archive lade wrote', async () => {
    const out = join(tmp.path, 'for-bsd.tar');
    await writeFile(
      out,
      await collect(
        writeTar([
          { header: { name: 'd/', mtime: 0 } },
          { header: { name: 'd/ü', uname: 'user', uid: 1000 }, body: 'x' },
          { header: { name: 'l', type: 'symlink', linkname: 'd/ü' } },
        ]),
      ),
    );
    const listing = await runOk('bsdtar', ['-tf', out]);
    expect(listing).toBe('d/\nd/ü\nl\n');
  });
});
