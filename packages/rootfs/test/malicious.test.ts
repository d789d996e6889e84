import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compressStream, encodeTarHeader, resolveEntry, type TarWriteEntry, writeTar } from '@lade/archive';
import { hash } from '@lade/digest';
import { buildConfig, buildManifest, MediaType, MemoryImageStore } from '@lade/manifest';
import { tempDir } from '@lade/test-support';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyLayer, type RootfsWarning, unpackImage } from '../src/index.js';

async function tarBytes(entries: TarWriteEntry[]): Promise<Uint8Array> {
  return new Uint8Array(await new Response(writeTar(entries)).arrayBuffer());
}
function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new Response(bytes as BodyInit).body as ReadableStream<Uint8Array>;
}

/** path → type/mode/size/content/link of everything under `dir` except `skip`. */
function snapshot(dir: string, skip: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (abs: string) => {
    for (const name of readdirSync(abs)) {
      const a = join(abs, name);
      if (a === skip) continue;
      const st = lstatSync(a);
      let what = `${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${st.nlink}`;
      if (st.isFile()) what += ` ${createHash('sha256').update(readFileSync(a)).digest('hex')}`;
      if (st.isSymbolicLink()) what += ` -> ${readlinkSync(a)}`;
      out.set(a, what);
      if (st.isDirectory()) walk(a);
    }
  };
  walk(dir);
  return out;
}

describe('a malicious layer never writes outside the target', () => {
  let sandbox: { path: string; cleanup: () => Promise<void> };
  let root: string;
  let outside: string;
  let before: Map<string, string>;
  const warnings: RootfsWarning[] = [];

  beforeEach(async () => {
    sandbox = await tempDir('lade-evil-');
    root = join(sandbox.path, 'target');
    outside = join(sandbox.path, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(join(outside, 'sentinel'), 'precious\n');
    await writeFile(join(sandbox.path, 'escape'), 'precious too\n');
    await mkdir(join(outside, 'dir'));
    await writeFile(join(outside, 'dir', 'inner'), 'inner\n');
    await symlink(outside, join(sandbox.path, 'outside-link'));
    warnings.length = 0;
    before = snapshot(sandbox.path, root);
  });

  afterEach(async () => {
    // The scan around the target: nothing beside it changed, appeared or vanished.
    expect(snapshot(sandbox.path, root)).toEqual(before);
    expect(existsSync(join('/', 'lade-pwned'))).toBe(false);
    expect(existsSync('/tmp/lade-pwned')).toBe(false);
    await sandbox.cleanup();
  });

  const apply = async (entries: TarWriteEntry[], options: { rootless?: boolean } = {}) =>
    applyLayer(root, streamOf(await tarBytes(entries)), { ...options, onWarning: (w) => warnings.push(w) });
  const applyRaw = async (bytes: Uint8Array) =>
    applyLayer(root, streamOf(bytes), { onWarning: (w) => warnings.push(w) });
  const file = (name: string, body = 'pwned\n'): TarWriteEntry => ({ header: { name }, body });
  const link = (name: string, linkname: string): TarWriteEntry => ({ header: { name, type: 'symlink', linkname } });
  const hard = (name: string, linkname: string): TarWriteEntry => ({ header: { name, type: 'hardlink', linkname } });
  const dir = (name: string): TarWriteEntry => ({ header: { name, type: 'directory' } });
  const rejects = async (entries: TarWriteEntry[], code = 'LAYER_INVALID') => {
    await expect(apply(entries)).rejects.toMatchObject({ code });
  };
  const inRoot = (p: string) => readFileSync(join(root, p), 'utf8');

  it('rejects a `..` path traversal', async () => rejects([file('../escape')]));
  it('rejects a deep traversal to /tmp', async () => rejects([file('../../../../../../../../tmp/lade-pwned')]));
  it('rejects `..` hidden inside a path', async () => rejects([file('a/../../escape')]));
  it('rejects `./` prefixed traversal', async () => rejects([file('./././../escape')]));
  it('rejects a traversal in a directory entry', async () => rejects([dir('../outside/newdir/')]));

  it('writes an absolute name inside the target', async () => {
    await apply([file(`${outside}/sentinel`), file('/tmp/lade-pwned')]);
    expect(inRoot(`${outside.slice(1)}/sentinel`)).toBe('pwned\n');
    expect(inRoot('tmp/lade-pwned')).toBe('pwned\n');
  });

  it('resolves a relative symlink escaping the root inside it (same layer)', async () => {
    await apply([link('link', '../outside'), file('link/sentinel')]);
    expect(inRoot('outside/sentinel')).toBe('pwned\n');
  });

  it('resolves an absolute symlink to the host inside the root (same layer)', async () => {
    await apply([link('link', outside), file('link/sentinel')]);
    expect(inRoot(`${outside.slice(1)}/sentinel`)).toBe('pwned\n');
  });

  it('resolves a symlink from an earlier layer inside the root (symlink-then-write across layers)', async () => {
    await apply([link('link', outside)]);
    await apply([file('link/sentinel'), dir('link/dir/'), file('link/dir/inner')]);
    expect(inRoot(`${outside.slice(1)}/sentinel`)).toBe('pwned\n');
    expect(inRoot(`${outside.slice(1)}/dir/inner`)).toBe('pwned\n');
  });

  it('follows a symlink chain climbing with `..` no higher than the root', async () => {
    await apply([link('a', 'b'), link('b', '../../../..'), file('a/escape')]);
    expect(inRoot('escape')).toBe('pwned\n');
  });

  it('treats a symlink to `..` at the root as the root', async () => {
    await apply([link('up', '..'), file('up/up/up/escape')]);
    expect(inRoot('escape')).toBe('pwned\n');
  });

  it('replaces a symlink to a host file instead of writing through it', async () => {
    await apply([link('victim', join(outside, 'sentinel'))]);
    await apply([file('victim', 'replaced\n')]);
    expect(lstatSync(join(root, 'victim')).isFile()).toBe(true);
    expect(inRoot('victim')).toBe('replaced\n');
  });

  it('replaces a symlink to a host directory with a directory instead of entering it', async () => {
    await apply([link('d', outside)]);
    await apply([dir('d/'), file('d/new')]);
    expect(lstatSync(join(root, 'd')).isDirectory()).toBe(true);
    expect(inRoot('d/new')).toBe('pwned\n');
  });

  it('rejects a hardlink climbing out with `..`', async () => rejects([hard('h', '../outside/sentinel')]));

  it('rejects a hardlink to an absolute host path (it names a path inside the root, which does not exist)', async () =>
    rejects([hard('h', join(outside, 'sentinel'))]));

  it('rejects a hardlink through a symlinked parent pointing at the host', async () =>
    rejects([link('l', outside), hard('h', 'l/sentinel')]));

  it('links a hardlink to a symlink to the symlink itself, and a later write replaces it', async () => {
    await apply([link('s', join(outside, 'sentinel')), hard('h', 's')]);
    expect(lstatSync(join(root, 'h')).isSymbolicLink()).toBe(true);
    await apply([file('h', 'mine\n')]);
    expect(inRoot('h')).toBe('mine\n');
  });

  it('unlinks a hardlink before a later entry writes its path, leaving the other name intact', async () => {
    await apply([file('orig', 'original\n'), hard('alias', 'orig')]);
    await apply([file('alias', 'changed\n')]);
    expect(inRoot('orig')).toBe('original\n');
    expect(inRoot('alias')).toBe('changed\n');
  });

  it('rejects a whiteout of `..`', async () => rejects([file('.wh...', '')]));
  it('rejects a whiteout of `..` in a subdirectory', async () => rejects([dir('sub/'), file('sub/.wh...', '')]));
  it('rejects a whiteout outside the root', async () => rejects([file('../.wh.outside', '')]));

  it('keeps a whiteout through a symlinked parent inside the root', async () => {
    await apply([link('l', sandbox.path), file('keep')]);
    await apply([file('l/.wh.outside', ''), file('l/.wh.escape', '')]);
    expect(inRoot('keep')).toBe('pwned\n');
  });

  it('keeps an opaque whiteout through a symlink climbing to the root inside the root', async () => {
    await apply([dir('d/'), file('d/old'), link('l', '../..')]);
    await apply([file('l/.wh..wh..opq', ''), file('l/new')]);
    // The opaque root hid every lower entry, the symlink too, so `l/new` made a fresh directory `l`.
    expect(readdirSync(root)).toEqual(['l']);
    expect(inRoot('l/new')).toBe('pwned\n');
  });

  it('skips device nodes and fifos when rootless, with a warning each', async () => {
    await apply(
      [
        { header: { name: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 } },
        { header: { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 } },
        { header: { name: 'fifo', type: 'fifo' } },
      ],
      { rootless: true },
    );
    expect(existsSync(join(root, 'dev/null'))).toBe(false);
    expect(existsSync(join(root, 'fifo'))).toBe(false);
    expect(warnings.map((w) => [w.code, w.path])).toEqual([
      ['DEVICE_SKIPPED', 'dev/null'],
      ['DEVICE_SKIPPED', 'dev/sda'],
      ['DEVICE_SKIPPED', 'fifo'],
    ]);
  });

  it('rejects a name component longer than the file system allows', async () => rejects([file(`${'x'.repeat(300)}`)]));

  it('rejects a path longer than PATH_MAX', async () =>
    rejects([file(`${Array.from({ length: 30 }, () => 'y'.repeat(200)).join('/')}/f`)]));

  it('writes long but legal names', async () => {
    const name = `${Array.from({ length: 4 }, () => 'z'.repeat(250)).join('/')}/${'f'.repeat(250)}`;
    await apply([file(name, 'ok\n')]);
    expect(inRoot(name)).toBe('ok\n');
  });

  it('lets the last of duplicate entries win', async () => {
    await apply([file('dup', 'first\n'), file('dup', 'second\n'), link('dup2', 'x'), file('dup2', 'file now\n')]);
    expect(inRoot('dup')).toBe('second\n');
    expect(inRoot('dup2')).toBe('file now\n');
  });

  it('replaces a file by a directory and back, in one layer and across layers', async () => {
    await apply([file('x', 'file\n'), dir('x/'), file('x/y', 'child\n')]);
    expect(inRoot('x/y')).toBe('child\n');
    await apply([file('x', 'file again\n')]);
    expect(inRoot('x')).toBe('file again\n');
    await apply([dir('x/'), file('x/z')]);
    expect(lstatSync(join(root, 'x')).isDirectory()).toBe(true);
    expect(readdirSync(join(root, 'x'))).toEqual(['z']);
  });

  it('rejects a file whose parent is a file', async () => rejects([file('f'), file('f/child')]));

  it('rejects a symlink loop in a parent', async () => rejects([link('a', 'b'), link('b', 'a'), file('a/x')]));

  it('rejects an absurd declared size before writing anything', async () => {
    const header = encodeTarHeader(resolveEntry({ name: 'huge', size: 2 ** 50 }, undefined));
    const bytes = new Uint8Array(header.length + 4096);
    bytes.set(header);
    await expect(applyRaw(bytes)).rejects.toMatchObject({ code: 'LAYER_INVALID' });
    expect(existsSync(join(root, 'huge'))).toBe(false);
  });

  it('refuses a layer whose content does not match its diff_id and unpacks nothing', async () => {
    const store = new MemoryImageStore();
    const layer = await tarBytes([file('a'), file('b')]);
    const blob = store.putBlob(layer, MediaType.OCI_LAYER);
    const config = buildConfig({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}` as never] },
    });
    store.putBlob(config.bytes, MediaType.OCI_CONFIG);
    store.putManifest(buildManifest({ config: config.descriptor, layers: [blob] }).bytes, 'bad');
    const dest = join(root, 'unpacked');
    await expect(unpackImage(store.source('bad'), dest)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(readdirSync(root)).toEqual([]);
  });

  it('verifies blob digests too with verifyBlobs, unpacking nothing on a mismatch', async () => {
    const store = new MemoryImageStore();
    const tar = await tarBytes([file('a', 'same content\n')]);
    const gz = async (level: number) =>
      new Uint8Array(
        await new Response(
          compressStream(new Response(tar as BodyInit).body as ReadableStream<Uint8Array>, 'gzip', {
            level,
          }) as ReadableStream<Uint8Array>,
        ).arrayBuffer(),
      );
    const blob = store.putBlob(await gz(9), MediaType.OCI_LAYER_GZIP);
    // The same tar compressed differently, stored under the first blob's digest: right diff_id, wrong blob digest.
    store.putBlobUnchecked(blob.digest, await gz(1));
    const config = buildConfig({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [hash(tar)] },
    });
    store.putBlob(config.bytes, MediaType.OCI_CONFIG);
    store.putManifest(buildManifest({ config: config.descriptor, layers: [blob] }).bytes, 'swapped');
    const error = await unpackImage(store.source('swapped'), join(root, 'strict'), { verifyBlobs: true }).catch(
      (e: unknown) => e,
    );
    expect(['DIGEST_INVALID', 'SIZE_INVALID']).toContain((error as { code?: string }).code);
    expect(readdirSync(root)).toEqual([]);
    // Without it the diff_id (what the config commits to) is what is checked, and it matches.
    await unpackImage(store.source('swapped'), join(root, 'lenient'));
    expect(inRoot('lenient/a')).toBe('same content\n');
  });

  it('unpacks nothing when a later layer of an image is hostile', async () => {
    const store = new MemoryImageStore();
    store.putImage({
      layers: [await tarBytes([file('good')]), await tarBytes([link('l', outside), hard('h', '../x')])],
      tag: 'evil',
    });
    await expect(unpackImage(store.source('evil'), join(root, 'unpacked'))).rejects.toMatchObject({
      code: 'LAYER_INVALID',
    });
    expect(readdirSync(root)).toEqual([]);
  });
});
