import { describe, expect, it } from 'vitest';
import { collect, streamOf, text } from './helpers.js';
import { isLadeErrorLike, readTar, type TarHeader, writeTar } from './tar-test-support.js';

async function archive(entries: Parameters<typeof writeTar>[0], format?: 'pax' | 'gnu' | 'ustar'): Promise<Uint8Array> {
  return collect(writeTar(entries, format ? { format } : {}));
}

async function readAllEntries(bytes: Uint8Array, chunk = 65536): Promise<{ header: TarHeader; body: Uint8Array }[]> {
  const out: { header: TarHeader; body: Uint8Array }[] = [];
  for await (const e of readTar(streamOf(bytes, chunk))) out.push({ header: e.header, body: await collect(e.body) });
  return out;
}

function fixChecksum(bytes: Uint8Array, at = 0): void {
  const b = bytes.subarray(at, at + 512);
  for (let i = 148; i < 156; i++) b[i] = 0x20;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  const d = sum.toString(8).padStart(6, '0');
  for (let i = 0; i < 6; i++) b[148 + i] = d.charCodeAt(i);
  b[154] = 0;
}

function rawHeader(fields: { name: string; size?: number; typeflag?: string; sizeField?: Uint8Array }): Uint8Array {
  const b = new Uint8Array(512);
  b.set(text(fields.name).subarray(0, 100), 0);
  b.set(text('0000644\0'), 100);
  b.set(text('0000000\0'), 108);
  b.set(text('0000000\0'), 116);
  b.set(fields.sizeField ?? text(`${(fields.size ?? 0).toString(8).padStart(11, '0')}\0`), 124);
  b.set(text('00000000000\0'), 136);
  b[156] = (fields.typeflag ?? '0').charCodeAt(0);
  b.set(text('ustar\x0000'), 257);
  fixChecksum(b);
  return b;
}

function paxBlock(name: string, records: Uint8Array): Uint8Array {
  const h = rawHeader({ name, size: records.length, typeflag: 'x' });
  const body = new Uint8Array(Math.ceil(records.length / 512) * 512);
  body.set(records);
  return concat(h, body);
}

function paxRecord(key: string, value: string): Uint8Array {
  const base = text(` ${key}=${value}\n`).length;
  let len = base + String(base).length;
  if (String(len).length !== String(base).length) len = base + String(len).length;
  return text(`${len} ${key}=${value}\n`);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

const EOA = new Uint8Array(1024);

async function expectTarError(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  let err: unknown;
  try {
    await readAllEntries(bytes);
  } catch (e) {
    err = e;
  }
  expect(isLadeErrorLike(err), `expected a TarError, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe('TAR_INVALID');
  expect((err as Error).message).toMatch(pattern);
}

describe('readTar', () => {
  it('reads every entry type with its metadata', async () => {
    const bytes = await archive([
      {
        header: {
          name: 'd',
          type: 'directory',
          mode: 0o750,
          uid: 7,
          gid: 8,
          uname: 'u',
          gname: 'g',
          mtime: 1_600_000_000,
        },
      },
      { header: { name: 'd/f', mode: 0o4755 }, body: 'content' },
      { header: { name: 'd/l', type: 'symlink', linkname: '../x' } },
      { header: { name: 'd/h', type: 'hardlink', linkname: 'd/f' } },
      { header: { name: 'd/c', type: 'char-device', devmajor: 1, devminor: 3 } },
      { header: { name: 'd/b', type: 'block-device', devmajor: 8, devminor: 1 } },
      { header: { name: 'd/p', type: 'fifo' } },
    ]);
    const got = await readAllEntries(bytes);
    expect(got.map((e) => [e.header.name, e.header.type, e.header.typeflag])).toEqual([
      ['d/', 'directory', '5'],
      ['d/f', 'file', '0'],
      ['d/l', 'symlink', '2'],
      ['d/h', 'hardlink', '1'],
      ['d/c', 'char-device', '3'],
      ['d/b', 'block-device', '4'],
      ['d/p', 'fifo', '6'],
    ]);
    expect(got[0]!.header).toMatchObject({
      mode: 0o750,
      uid: 7,
      gid: 8,
      uname: 'u',
      gname: 'g',
      mtime: 1_600_000_000,
      format: 'ustar',
      offset: 0,
    });
    expect(new TextDecoder().decode(got[1]!.body)).toBe('content');
    expect(got[1]!.header.mode).toBe(0o4755);
    expect(got[2]!.header.linkname).toBe('../x');
    expect(got[4]!.header).toMatchObject({ devmajor: 1, devminor: 3 });
    expect(got[5]!.header).toMatchObject({ devmajor: 8, devminor: 1 });
  });

  it('applies PAX records: path, linkpath, size, ids, names, fractional mtime, atime, xattrs', async () => {
    const longName = `${'p/'.repeat(150)}end`;
    const bytes = await archive([
      {
        header: {
          name: longName,
          uid: 0o10000000,
          gid: 5_000_000,
          uname: 'ünïcode',
          gname: 'g'.repeat(40),
          mtime: 1_700_000_000.123456,
          atime: 1_700_000_001.5,
          xattrs: { 'user.a': 'b', 'security.capability': new Uint8Array([1, 0, 0xff, 2]) },
        },
        body: 'x',
      },
      { header: { name: 'sym', type: 'symlink', linkname: 'ζ'.repeat(120) } },
    ]);
    const [a, b] = await readAllEntries(bytes, 7);
    expect(a!.header).toMatchObject({
      name: longName,
      uid: 0o10000000,
      gid: 5_000_000,
      uname: 'ünïcode',
      gname: 'g'.repeat(40),
      mtime: 1_700_000_000.123456,
      atime: 1_700_000_001.5,
      format: 'pax',
    });
    expect(a!.header.xattrs?.['user.a']).toEqual(text('b'));
    expect(a!.header.xattrs?.['security.capability']).toEqual(new Uint8Array([1, 0, 0xff, 2]));
    expect(b!.header.linkname).toBe('ζ'.repeat(120));
  });

  it('applies a global PAX header to every later entry, and a local one only to its entry', async () => {
    const g = paxRecord('uname', 'everyone');
    const global = concat(
      rawHeader({ name: 'pax_global_header', size: g.length, typeflag: 'g' }),
      (() => {
        const b = new Uint8Array(512);
        b.set(g);
        return b;
      })(),
    );
    const bytes = concat(
      global,
      paxBlock('x1', paxRecord('uname', 'mine')),
      rawHeader({ name: 'one' }),
      rawHeader({ name: 'two' }),
      EOA,
    );
    const got = await readAllEntries(bytes);
    expect(got.map((e) => e.header.uname)).toEqual(['mine', 'everyone']);
  });

  it('reads GNU long names, long links and base-256 numbers', async () => {
    const bytes = await archive(
      [
        { header: { name: `${'n'.repeat(200)}/file`, uid: 2 ** 40, mtime: -100 }, body: 'abc' },
        { header: { name: 'l', type: 'symlink', linkname: 't'.repeat(300) } },
      ],
      'gnu',
    );
    const got = await readAllEntries(bytes);
    expect(got[0]!.header).toMatchObject({
      name: `${'n'.repeat(200)}/file`,
      uid: 2 ** 40,
      mtime: -100,
      format: 'gnu',
      size: 3,
    });
    expect(got[1]!.header.linkname).toBe('t'.repeat(300));
  });

  it('reads a v7 header and treats a trailing slash as a directory', async () => {
    const h = rawHeader({ name: 'olddir/', typeflag: '\0' });
    h.fill(0, 257, 265);
    fixChecksum(h);
    const got = await readAllEntries(concat(h, EOA));
    expect(got[0]!.header).toMatchObject({ name: 'olddir/', type: 'directory', format: 'v7' });
  });

  it('skips bodies the consumer did not read and keeps entries aligned', async () => {
    const bytes = await archive([
      { header: { name: 'a' }, body: new Uint8Array(1000).fill(1) },
      { header: { name: 'b' }, body: new Uint8Array(513).fill(2) },
      { header: { name: 'c' }, body: 'tail' },
    ]);
    const names: string[] = [];
    let last = '';
    for await (const e of readTar(streamOf(bytes, 100))) {
      names.push(e.header.name);
      if (e.header.name === 'b') {
        const r = e.body.getReader();
        await r.read(); // read a part, abandon the rest
        r.releaseLock();
      }
      if (e.header.name === 'c') last = await e.text();
    }
    expect(names).toEqual(['a', 'b', 'c']);
    expect(last).toBe('tail');
  });

  it('cancels the source when the loop is left early', async () => {
    const bytes = await archive([
      { header: { name: 'a' }, body: 'x' },
      { header: { name: 'b' }, body: 'y' },
    ]);
    let cancelled = false;
    const src = streamOf(bytes, 512);
    const reader = src.getReader();
    const wrapped = new ReadableStream<Uint8Array>({
      async pull(c) {
        const r = await reader.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const e of readTar(wrapped)) {
      expect(e.header.name).toBe('a');
      break;
    }
    expect(cancelled).toBe(true);
  });

  it('serializes concurrent next() calls instead of interleaving reads', async () => {
    const bytes = await archive([
      { header: { name: 'a' }, body: 'x' },
      { header: { name: 'b' }, body: 'y' },
      { header: { name: 'c' }, body: 'z' },
    ]);
    const reader = readTar(streamOf(bytes, 100));
    const got = await Promise.all([reader.next(), reader.next(), reader.next(), reader.next()]);
    expect(got.map((e) => e?.header.name ?? null)).toEqual(['a', 'b', 'c', null]);
  });

  it('accepts an archive that ends on a header boundary without the end marker', async () => {
    const bytes = await archive([{ header: { name: 'a' }, body: 'x' }]);
    const got = await readAllEntries(bytes.subarray(0, 1024));
    expect(got.map((e) => e.header.name)).toEqual(['a']);
  });

  it('expands a PAX 1.0 sparse file into its full content', async () => {
    // map: 2 segments: "hello" at 0, "world" at 8192; real size 10000
    const map = text('2\n0\n5\n8192\n5\n');
    const mapBlock = new Uint8Array(512);
    mapBlock.set(map);
    const data = text('helloworld');
    const stored = 512 + data.length;
    const recs = concat(
      paxRecord('GNU.sparse.major', '1'),
      paxRecord('GNU.sparse.minor', '0'),
      paxRecord('GNU.sparse.name', 'holes.bin'),
      paxRecord('GNU.sparse.realsize', '10000'),
    );
    const body = new Uint8Array(Math.ceil(stored / 512) * 512);
    body.set(mapBlock);
    body.set(data, 512);
    const bytes = concat(
      paxBlock('GNUSparseFile.0/holes.bin', recs),
      rawHeader({ name: 'GNUSparseFile.0/holes.bin', size: stored }),
      body,
      EOA,
    );
    const [e] = await readAllEntries(bytes);
    expect(e!.header).toMatchObject({
      name: 'holes.bin',
      size: 10000,
      sparse: { major: 1, minor: 0, realSize: 10000, expanded: true },
    });
    const expected = new Uint8Array(10000);
    expected.set(text('hello'), 0);
    expected.set(text('world'), 8192);
    expect(e!.body).toEqual(expected);
  });
});

describe('readTar on bad input', () => {
  it('rejects a header with a bad checksum, naming the entry', async () => {
    const bytes = await archive([{ header: { name: 'victim.txt' }, body: 'x' }]);
    bytes[0] = 'V'.charCodeAt(0);
    await expectTarError(bytes, /tar entry "Victim.txt" at offset 0: header checksum mismatch/);
  });

  it('rejects random bytes that are not a tar', async () => {
    await expectTarError(new Uint8Array(2048).fill(0x41), /checksum mismatch/);
  });

  it('rejects an archive truncated inside a header', async () => {
    const bytes = await archive([
      { header: { name: 'a' }, body: 'x' },
      { header: { name: 'b' }, body: 'y' },
    ]);
    await expectTarError(bytes.subarray(0, 1024 + 100), /ends inside it; it is truncated/);
  });

  it('rejects an archive truncated inside an entry body, naming the entry', async () => {
    const bytes = await archive([{ header: { name: 'big.bin' }, body: new Uint8Array(5000) }]);
    await expectTarError(
      bytes.subarray(0, 512 + 3000),
      /tar entry "big.bin" at offset 0: the archive ends inside this entry's data/,
    );
  });

  it('rejects a header claiming far more data than the stream holds, without allocating it', async () => {
    const h = rawHeader({ name: 'liar', size: 0o77777777777 });
    await expectTarError(concat(h, new Uint8Array(512)), /"liar".*truncated/);
  });

  it('rejects a negative base-256 size', async () => {
    const field = new Uint8Array(12).fill(0xff);
    await expectTarError(concat(rawHeader({ name: 'neg', sizeField: field }), EOA), /"neg".*negative size/);
  });

  it('rejects a base-256 size beyond 2^53', async () => {
    const field = new Uint8Array(12);
    field[0] = 0x80;
    field[3] = 0x7f;
    await expectTarError(
      concat(rawHeader({ name: 'huge', sizeField: field }), EOA),
      /"huge".*size field is not a valid number/,
    );
  });

  it('rejects a PAX size that is not a number', async () => {
    await expectTarError(
      concat(paxBlock('x', paxRecord('size', '-5')), rawHeader({ name: 'f' }), EOA),
      /"f".*PAX size="-5" is not a valid number/,
    );
  });

  it('rejects a NUL byte inside a PAX path', async () => {
    await expectTarError(
      concat(paxBlock('x', paxRecord('path', 'evil\0name')), rawHeader({ name: 'f' }), EOA),
      /path contains a NUL byte/,
    );
  });

  it('rejects a NUL byte inside a GNU long name', async () => {
    const data = text('long\0name\0');
    const body = new Uint8Array(512);
    body.set(data);
    await expectTarError(
      concat(
        rawHeader({ name: '././@LongLink', size: data.length, typeflag: 'L' }),
        body,
        rawHeader({ name: 'f' }),
        EOA,
      ),
      /contains a NUL byte/,
    );
  });

  it('rejects a PAX header larger than the metadata limit without reading it into memory', async () => {
    const h = rawHeader({ name: 'x', size: 512 * 1024 * 1024, typeflag: 'x' });
    await expectTarError(concat(h, EOA), /exceed the 1048576-byte metadata limit/);
  });

  it('rejects a malformed PAX record', async () => {
    await expectTarError(
      concat(paxBlock('x', text('99 path=short\n')), rawHeader({ name: 'f' }), EOA),
      /malformed PAX record/,
    );
  });

  it('rejects an archive that ends after an extended header', async () => {
    await expectTarError(paxBlock('x', paxRecord('path', 'p')), /ends after an extended header/);
  });

  it('rejects a sparse map that lies beyond the real size', async () => {
    const mapBlock = new Uint8Array(512);
    mapBlock.set(text('1\n100\n5\n'));
    const recs = concat(
      paxRecord('GNU.sparse.major', '1'),
      paxRecord('GNU.sparse.minor', '0'),
      paxRecord('GNU.sparse.realsize', '50'),
    );
    const body = new Uint8Array(1024);
    body.set(mapBlock);
    await expectTarError(
      concat(paxBlock('x', recs), rawHeader({ name: 's', size: 517 }), body, EOA),
      /"s".*beyond the file's real size/,
    );
  });

  it('keeps failing after an error instead of reading on', async () => {
    const bytes = await archive([{ header: { name: 'a' }, body: new Uint8Array(2000) }]);
    const reader = readTar(streamOf(bytes.subarray(0, 1000)));
    const e = await reader.next();
    await expect(collect(e!.body)).rejects.toMatchObject({ code: 'TAR_INVALID' });
    await expect(reader.next()).rejects.toMatchObject({ code: 'TAR_INVALID' });
  });
});
