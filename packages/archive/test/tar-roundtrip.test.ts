import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTarWriter, readTar, type TarEntryInit, type TarWriteEntry, writeTar } from '../src/index.js';
import { collect, streamOf } from './helpers.js';

const segment = fc.stringMatching(/^[a-zA-Z0-9._ü€-]{1,40}$/).filter((s) => s !== '.' && s !== '..');
const path = fc.array(segment, { minLength: 1, maxLength: 8 }).map((p) => p.join('/'));
const seconds = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 33 - 1 }),
  fc.integer({ min: 0, max: 2 ** 31 }).map((s) => s + 0.5),
);
const user = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,40}$/);

const entryArb: fc.Arbitrary<TarWriteEntry> = fc.oneof(
  fc
    .record({
      name: path,
      mode: fc.integer({ min: 0, max: 0o7777 }),
      uid: fc.nat(2 ** 32),
      gid: fc.nat(2 ** 21),
      uname: user,
      gname: user,
      mtime: seconds,
      body: fc.uint8Array({ maxLength: 3000 }),
    })
    .map(({ body, ...h }): TarWriteEntry => ({ header: { ...h, type: 'file' }, body })),
  fc
    .record({ name: path, mtime: seconds })
    .map((h): TarWriteEntry => ({ header: { ...h, name: `${h.name}/`, type: 'directory' } })),
  fc
    .record({
      name: path,
      linkname: fc.oneof(
        path,
        fc.string({ minLength: 1, maxLength: 300 }).filter((s) => !s.includes('\0')),
      ),
    })
    .map((h): TarWriteEntry => ({ header: { ...h, type: 'symlink' } })),
  fc.record({ name: path, linkname: path }).map((h): TarWriteEntry => ({ header: { ...h, type: 'hardlink' } })),
  fc
    .record({ name: path, devmajor: fc.nat(4095), devminor: fc.nat(0o7777777) })
    .map((h): TarWriteEntry => ({ header: { ...h, type: 'char-device' } })),
  fc.record({ name: path }).map((h): TarWriteEntry => ({ header: { ...h, type: 'fifo' } })),
  fc
    .record({
      name: path,
      xattrs: fc.dictionary(fc.stringMatching(/^user\.[a-z]{1,10}$/), fc.uint8Array({ minLength: 1, maxLength: 40 })),
    })
    .map((h): TarWriteEntry => ({ header: { ...h, type: 'file' }, body: new Uint8Array(0) })),
);

function expected(entry: TarWriteEntry, format: 'pax' | 'gnu'): Partial<Record<keyof TarEntryInit, unknown>> {
  const h = entry.header;
  const out: Record<string, unknown> = { name: h.name, type: h.type };
  for (const k of ['mode', 'uid', 'gid', 'uname', 'gname', 'linkname', 'devmajor', 'devminor'] as const)
    if (h[k] !== undefined) out[k] = h[k];
  if (h.mtime !== undefined) out.mtime = format === 'gnu' ? Math.floor(h.mtime as number) : h.mtime;
  if (h.xattrs && Object.keys(h.xattrs).length > 0) out.xattrs = h.xattrs;
  return out;
}

async function roundTrip(entries: TarWriteEntry[], format: 'pax' | 'gnu', chunk: number): Promise<void> {
  const bytes = await collect(writeTar(entries, { format }));
  expect(bytes.length % 512).toBe(0);
  const got: { header: Record<string, unknown>; body: Uint8Array }[] = [];
  for await (const e of readTar(streamOf(bytes, chunk)))
    got.push({ header: e.header as unknown as Record<string, unknown>, body: await collect(e.body) });
  expect(got.length).toBe(entries.length);
  entries.forEach((entry, i) => {
    expect(got[i]!.header).toMatchObject(expected(entry, format));
    const body = entry.body instanceof Uint8Array ? entry.body : new Uint8Array(0);
    expect(got[i]!.body).toEqual(body);
  });
}

describe('tar round trip (write → read == input)', () => {
  it('holds for arbitrary entries in the PAX format, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 12 }), fc.integer({ min: 1, max: 2048 }), (entries, chunk) =>
        roundTrip(entries, 'pax', chunk),
      ),
      { numRuns: 150 },
    );
  });

  it('holds for arbitrary entries without xattrs in the GNU format', async () => {
    const noXattrs = entryArb.filter(
      (e) => !e.header.xattrs && !(typeof e.header.mtime === 'number' && !Number.isInteger(e.header.mtime)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(noXattrs, { maxLength: 12 }), fc.integer({ min: 1, max: 2048 }), (entries, chunk) =>
        roundTrip(entries, 'gnu', chunk),
      ),
      { numRuns: 100 },
    );
  });

  it('writes byte-identical output for the same input', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entryArb, { maxLength: 8 }), async (entries) => {
        const a = await collect(writeTar(entries));
        const b = await collect(writeTar(entries));
        expect(a).toEqual(b);
      }),
      { numRuns: 50 },
    );
  });

  it('sorts entries by name when asked, so input order does not matter', async () => {
    const entries: TarWriteEntry[] = [
      { header: { name: 'b' }, body: '2' },
      { header: { name: 'a' }, body: '1' },
      { header: { name: 'c/' } },
    ];
    const a = await collect(writeTar(entries, { sort: true }));
    const b = await collect(writeTar([...entries].reverse(), { sort: true }));
    expect(a).toEqual(b);
    const names: string[] = [];
    for await (const e of readTar(streamOf(a))) names.push(e.header.name);
    expect(names).toEqual(['a', 'b', 'c/']);
  });

  it('leaks nothing of the host: defaults are uid 0, no user names, mtime 0', async () => {
    const bytes = await collect(writeTar([{ header: { name: 'f' }, body: 'x' }]));
    for await (const e of readTar(streamOf(bytes)))
      expect(e.header).toMatchObject({ uid: 0, gid: 0, uname: '', gname: '', mtime: 0, mode: 0o644 });
  });

  it('ends the archive with two zero blocks', async () => {
    const bytes = await collect(writeTar([]));
    expect(bytes).toEqual(new Uint8Array(1024));
  });

  it('streams a body of the declared size and rejects one that is longer or shorter', async () => {
    const ok = await collect(
      writeTar([{ header: { name: 's', size: 3 }, body: streamOf(new Uint8Array([1, 2, 3]), 1) }]),
    );
    expect(ok.length).toBe(512 + 512 + 1024);
    await expect(
      collect(writeTar([{ header: { name: 'long', size: 2 }, body: streamOf(new Uint8Array(3)) }])),
    ).rejects.toMatchObject({
      code: 'TAR_INVALID',
      message: expect.stringMatching(/"long".*longer than the declared 2/),
    });
    await expect(
      collect(writeTar([{ header: { name: 'short', size: 5 }, body: streamOf(new Uint8Array(3)) }])),
    ).rejects.toMatchObject({
      code: 'TAR_INVALID',
      message: expect.stringMatching(/"short".*ended after 3 of the declared 5/),
    });
  });

  it('refuses what the chosen format cannot hold', async () => {
    await expect(collect(writeTar([{ header: { name: 'n'.repeat(300) } }], { format: 'ustar' }))).rejects.toMatchObject(
      { code: 'TAR_INVALID' },
    );
    await expect(
      collect(writeTar([{ header: { name: 'x', xattrs: { 'user.a': 'b' } } }], { format: 'gnu' })),
    ).rejects.toMatchObject({ code: 'TAR_INVALID' });
    await expect(collect(writeTar([{ header: { name: 'bad\0name' } }]))).rejects.toMatchObject({ code: 'TAR_INVALID' });
    await expect(collect(writeTar([{ header: { name: 'd/', size: 4 }, body: 'data' }]))).rejects.toMatchObject({
      code: 'TAR_INVALID',
    });
  });

  it('createTarWriter writes pushed entries paced by the reader', async () => {
    const w = createTarWriter();
    const done = collect(w.readable);
    await w.add({ header: { name: 'one' }, body: '1' });
    await w.add({ header: { name: 'two', size: 2 }, body: streamOf(new Uint8Array([5, 6])) });
    await w.close();
    const bytes = await done;
    const got: string[] = [];
    for await (const e of readTar(streamOf(bytes))) got.push(`${e.header.name}:${(await e.bytes()).join(',')}`);
    expect(got).toEqual(['one:49', 'two:5,6']);
  });
});
