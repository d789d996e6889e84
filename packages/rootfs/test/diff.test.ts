import { chmodSync, linkSync, mkdirSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTar, type TarWriteEntry, writeTar } from '@lade/archive';
import { hash } from '@lade/digest';
import { MemoryImageStore } from '@lade/manifest';
import { describeTree, tempDir, treeDifferences } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  applyLayer,
  diffDirectory,
  diffLayer,
  formatChanges,
  readUnpackRecord,
  treeFromImage,
  unpackImage,
} from '../src/index.js';

async function tarBytes(entries: TarWriteEntry[]): Promise<Uint8Array> {
  return new Uint8Array(await new Response(writeTar(entries)).arrayBuffer());
}
const bytesOf = async (s: ReadableStream<Uint8Array>) =>
  new Uint8Array(await new Response(s as BodyInit).arrayBuffer());
const file = (name: string, body = `${name}\n`, extra: object = {}): TarWriteEntry => ({
  header: { name, mtime: 1_600_000_000, ...extra },
  body,
});
const dir = (name: string): TarWriteEntry => ({ header: { name, type: 'directory', mtime: 1_500_000_000 } });

describe('diffDirectory and diffLayer', () => {
  let t: { path: string; cleanup: () => Promise<void> };
  let store: MemoryImageStore;
  let rootfs: string;
  let recordPath: string;

  beforeEach(async () => {
    t = await tempDir('lade-diff-');
    store = new MemoryImageStore();
    store.putImage({
      tag: 'base',
      layers: [
        await tarBytes([
          dir('etc/'),
          file('etc/hosts'),
          file('etc/motd'),
          file('etc/gone'),
          dir('opt/'),
          dir('opt/app/'),
          file('opt/app/a'),
          file('opt/app/b'),
          dir('replaced/'),
          file('replaced/old'),
          dir('wasdir/'),
          file('wasdir/child'),
          file('wasfile'),
          { header: { name: 'link', type: 'symlink', linkname: 'etc/hosts' } },
          file('untouched', 'same\n'),
        ]),
      ],
    });
    rootfs = join(t.path, 'bundle', 'rootfs');
    recordPath = join(t.path, 'bundle', 'lade-unpack.json');
    await unpackImage(store.source('base'), rootfs, { recordPath });
  });
  afterEach(() => t.cleanup());

  function modify(): void {
    writeFileSync(join(rootfs, 'etc/hosts'), '127.0.0.1 changed\n');
    chmodSync(join(rootfs, 'etc/motd'), 0o600);
    unlinkSync(join(rootfs, 'etc/gone'));
    rmSync(join(rootfs, 'opt'), { recursive: true });
    rmSync(join(rootfs, 'replaced'), { recursive: true });
    mkdirSync(join(rootfs, 'replaced'));
    writeFileSync(join(rootfs, 'replaced/new'), 'new\n');
    rmSync(join(rootfs, 'wasdir'), { recursive: true });
    writeFileSync(join(rootfs, 'wasdir'), 'now a file\n');
    unlinkSync(join(rootfs, 'wasfile'));
    mkdirSync(join(rootfs, 'wasfile'));
    writeFileSync(join(rootfs, 'wasfile/inner'), 'inner\n');
    unlinkSync(join(rootfs, 'link'));
    symlinkSync('etc/motd', join(rootfs, 'link'));
    mkdirSync(join(rootfs, 'srv/www'), { recursive: true });
    writeFileSync(join(rootfs, 'srv/www/index.html'), '<h1>hi</h1>\n');
    linkSync(join(rootfs, 'srv/www/index.html'), join(rootfs, 'srv/www/alias.html'));
    utimesSync(join(rootfs, 'srv/www/index.html'), 1_700_000_000, 1_700_000_000);
  }

  it('lists additions, changes and deletions like docker diff (a deleted directory once, a remade one as changed)', async () => {
    modify();
    const changes = diffDirectory(rootfs, await readUnpackRecord(recordPath));
    expect(formatChanges(changes)).toEqual([
      'C /etc',
      'D /etc/gone',
      'C /etc/hosts',
      'C /etc/motd',
      'C /link',
      'D /opt',
      'C /replaced',
      'A /replaced/new',
      'A /srv',
      'A /srv/www',
      'A /srv/www/alias.html',
      'A /srv/www/index.html',
      'C /wasdir',
      'C /wasfile',
      'A /wasfile/inner',
    ]);
    expect(changes.find((c) => c.path === '/replaced')?.opaque).toBe(true);
  });

  it('marks a directory deleted and made again opaque even when the filesystem hands back the same inode number', async () => {
    // ext4 reuses a just-freed inode at once: only the birth time tells the new directory from the old one.
    rmSync(join(rootfs, 'replaced'), { recursive: true });
    mkdirSync(join(rootfs, 'replaced'));
    writeFileSync(join(rootfs, 'replaced/new'), 'new\n');
    const changes = diffDirectory(rootfs, await readUnpackRecord(recordPath));
    expect(formatChanges(changes)).toEqual(['C /replaced', 'A /replaced/new']);
    expect(changes.find((c) => c.path === '/replaced')?.opaque).toBe(true);
  });

  it('reports nothing for an untouched unpack', async () => {
    expect(diffDirectory(rootfs, await readUnpackRecord(recordPath))).toEqual([]);
  });

  it('writes the same layer bytes every time, sorted, with whiteouts, an opaque marker and a hardlink', async () => {
    modify();
    const record = await readUnpackRecord(recordPath);
    const one = await bytesOf(diffLayer(rootfs, diffDirectory(rootfs, record)));
    const two = await bytesOf(diffLayer(rootfs, diffDirectory(rootfs, record)));
    expect(hash(one)).toBe(hash(two));
    const names: string[] = [];
    const kinds: Record<string, string> = {};
    for await (const e of readTar(new Response(one as BodyInit).body as ReadableStream<Uint8Array>)) {
      names.push(e.header.name);
      kinds[e.header.name] = e.header.type;
      expect(e.header.uname).toBe('');
    }
    expect(names).toEqual([...names].sort());
    expect(names).toContain('etc/.wh.gone');
    expect(names).toContain('.wh.opt');
    expect(names).toContain('replaced/.wh..wh..opq');
    expect(kinds['srv/www/alias.html']).toBe('file');
    expect(kinds['srv/www/index.html']).toBe('hardlink');
    // alias sorts first, so it carries the content and index.html links to it
    expect(names.indexOf('srv/www/alias.html')).toBeLessThan(names.indexOf('srv/www/index.html'));
  });

  it('clamps mtimes to SOURCE_DATE_EPOCH and gives identical bytes for identical trees made at different times', async () => {
    modify();
    const record = await readUnpackRecord(recordPath);
    const a = await bytesOf(diffLayer(rootfs, diffDirectory(rootfs, record), { sourceDateEpoch: 1_000_000_000 }));
    for await (const e of readTar(new Response(a as BodyInit).body as ReadableStream<Uint8Array>))
      expect(e.header.mtime).toBeLessThanOrEqual(1_000_000_000);
    // Make the same change again in a second unpack, later: with a fixed epoch the layer is byte-identical.
    const rootfs2 = join(t.path, 'b2', 'rootfs');
    await unpackImage(store.source('base'), rootfs2, { recordPath: join(t.path, 'b2', 'lade-unpack.json') });
    const saved = rootfs;
    rootfs = rootfs2;
    modify();
    rootfs = saved;
    const b = await bytesOf(
      diffLayer(rootfs2, diffDirectory(rootfs2, await readUnpackRecord(join(t.path, 'b2', 'lade-unpack.json'))), {
        sourceDateEpoch: 1_000_000_000,
      }),
    );
    const list = async (x: Uint8Array) => {
      const out: string[] = [];
      for await (const e of readTar(new Response(x as BodyInit).body as ReadableStream<Uint8Array>))
        out.push(JSON.stringify({ ...e.header, offset: 0 }));
      return out;
    };
    expect(await list(b)).toEqual(await list(a));
    expect(hash(b)).toBe(hash(a));
  });

  it('gives back the modified tree when its layer is applied over a fresh unpack of the base', async () => {
    modify();
    const layer = await bytesOf(diffLayer(rootfs, diffDirectory(rootfs, await readUnpackRecord(recordPath))));
    const fresh = join(t.path, 'fresh');
    await unpackImage(store.source('base'), fresh);
    await applyLayer(fresh, new Response(layer as BodyInit).body as ReadableStream<Uint8Array>);
    expect(treeDifferences(describeTree(fresh), describeTree(rootfs))).toEqual([]);
  });

  it('finds the same file changes against the base image itself (content hashes, no record)', async () => {
    modify();
    const base = await treeFromImage(store.source('base'));
    const changes = formatChanges(diffDirectory(rootfs, base)).filter((l) => !['C /etc'].includes(l));
    expect(changes).toEqual([
      'D /etc/gone',
      'C /etc/hosts',
      'C /etc/motd',
      'C /link',
      'D /opt',
      'A /replaced/new',
      'D /replaced/old',
      'A /srv',
      'A /srv/www',
      'A /srv/www/alias.html',
      'A /srv/www/index.html',
      'C /wasdir',
      'C /wasfile',
      'A /wasfile/inner',
    ]);
  });
});
