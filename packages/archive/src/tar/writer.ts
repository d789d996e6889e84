import { TarError } from '../errors.js';
import { BLOCK, encodeUtf8, type TarEntryInit, typeflagOf } from './header.js';

/** Header layout a writer produces: `pax` (ustar plus PAX records where needed, the default), `gnu` (long-name entries, base-256 numbers) or strict `ustar`. */
export type TarWriteFormat = 'pax' | 'gnu' | 'ustar';

/** One entry to write: header fields and an optional body (bytes, UTF-8 text, or a stream of exactly `header.size` bytes). */
export interface TarWriteEntry {
  readonly header: TarEntryInit;
  readonly body?: Uint8Array | string | ReadableStream<Uint8Array>;
}

/** Options of {@link writeTar} and {@link createTarWriter}. */
export interface TarWriteOptions {
  readonly format?: TarWriteFormat;
  /** Sort entries by name before writing (only for arrays; a caller streaming entries sorts them itself). */
  readonly sort?: boolean;
  readonly signal?: AbortSignal;
}

const MAX_OCTAL_8 = 0o7777777;
const MAX_OCTAL_12 = 0o77777777777;
const END_OF_ARCHIVE = 2 * BLOCK;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7e || s.charCodeAt(i) < 0x20) return false;
  return true;
}

function toSeconds(t: number | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  return t instanceof Date ? t.getTime() / 1000 : t;
}

/** `1700000000.5` → "1700000000.5"; never exponent notation. */
function formatPaxTime(t: number): string {
  const s = String(t);
  return /e/i.test(s) ? t.toFixed(9).replace(/\.?0+$/, '') : s;
}

function writeString(block: Uint8Array, off: number, len: number, bytes: Uint8Array): void {
  block.set(bytes.subarray(0, len), off);
}

function writeOctal(block: Uint8Array, off: number, len: number, value: number): void {
  const digits = Math.trunc(value)
    .toString(8)
    .padStart(len - 1, '0');
  for (let i = 0; i < len - 1; i++) block[off + i] = digits.charCodeAt(i);
  block[off + len - 1] = 0;
}

function writeBase256(block: Uint8Array, off: number, len: number, value: number): void {
  let v = BigInt(Math.trunc(value));
  const negative = v < 0n;
  if (negative) v = (1n << BigInt(8 * len)) + v;
  for (let i = len - 1; i >= 0; i--) {
    block[off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[off] = negative ? 0xff : 0x80 | block[off]!;
}

function fitsOctal(value: number, len: number): boolean {
  return value >= 0 && Number.isInteger(value) && value <= (len === 8 ? MAX_OCTAL_8 : MAX_OCTAL_12);
}

/** Splits a path into ustar's prefix (≤155 bytes) and name (≤100 bytes), or undefined when it cannot be. */
function splitUstarPath(bytes: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | undefined {
  if (bytes.length <= 100) return { prefix: new Uint8Array(0), name: bytes };
  const limit = Math.min(bytes.length - 1, 155);
  for (let i = limit; i > 0; i--) {
    if (bytes[i] === 0x2f && bytes.length - i - 1 <= 100 && bytes.length - i - 1 > 0) {
      return { prefix: bytes.subarray(0, i), name: bytes.subarray(i + 1) };
    }
  }
  return undefined;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const keyBytes = encodeUtf8(key);
  const base = keyBytes.length + value.length + 3; // " " + "=" + "\n"
  let len = base + String(base).length;
  if (String(len).length !== String(base).length) len = base + String(len).length;
  const out = new Uint8Array(len);
  const prefix = encodeUtf8(`${len} `);
  out.set(prefix, 0);
  out.set(keyBytes, prefix.length);
  out[prefix.length + keyBytes.length] = 0x3d;
  out.set(value, prefix.length + keyBytes.length + 1);
  out[len - 1] = 0x0a;
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

interface BlockFields {
  name: Uint8Array;
  prefix: Uint8Array;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Uint8Array;
  uname: Uint8Array;
  gname: Uint8Array;
  devmajor: number;
  devminor: number;
}

function encodeBlock(f: BlockFields, gnu: boolean, where: string): Uint8Array {
  const b = new Uint8Array(BLOCK);
  writeString(b, 0, 100, f.name);
  const numeric = (off: number, len: number, value: number, field: string): void => {
    if (fitsOctal(value, len)) writeOctal(b, off, len, value);
    else if (Number.isSafeInteger(Math.trunc(value)))
      writeBase256(b, off, len, value); // GNU extension, read by GNU tar, bsdtar and Go
    else throw new TarError(`${where}: ${field} ${value} cannot be stored in a tar header`);
  };
  numeric(100, 8, f.mode, 'mode');
  numeric(108, 8, f.uid, 'uid');
  numeric(116, 8, f.gid, 'gid');
  numeric(124, 12, f.size, 'size');
  numeric(136, 12, f.mtime, 'mtime');
  b[156] = f.typeflag.charCodeAt(0);
  writeString(b, 157, 100, f.linkname);
  if (gnu)
    b.set([0x75, 0x73, 0x74, 0x61, 0x72, 0x20, 0x20, 0x00], 257); // "ustar  \0"
  else b.set([0x75, 0x73, 0x74, 0x61, 0x72, 0x00, 0x30, 0x30], 257); // "ustar\0" "00"
  writeString(b, 265, 32, f.uname);
  writeString(b, 297, 32, f.gname);
  numeric(329, 8, f.devmajor, 'devmajor');
  numeric(337, 8, f.devminor, 'devminor');
  if (!gnu) writeString(b, 345, 155, f.prefix);
  for (let i = 148; i < 156; i++) b[i] = 0x20;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  const digits = sum.toString(8).padStart(6, '0');
  for (let i = 0; i < 6; i++) b[148 + i] = digits.charCodeAt(i);
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

/** A normalized header ready to encode: the defaults applied and the size fixed. */
export interface ResolvedEntry {
  readonly init: TarEntryInit;
  readonly name: string;
  readonly type: Exclude<TarEntryInit['type'], undefined>;
  readonly size: number;
}

/** Applies the writer's defaults (type from a trailing slash, directory names ending in `/`). */
export function resolveEntry(init: TarEntryInit, bodySize: number | undefined): ResolvedEntry {
  const type = init.type ?? (init.name.endsWith('/') ? 'directory' : 'file');
  const name = type === 'directory' && !init.name.endsWith('/') ? `${init.name}/` : init.name;
  const where = `tar entry "${name}"`;
  if (name.length === 0 || name === '/') throw new TarError(`${where}: an entry needs a non-empty name`);
  if (name.includes('\0') || (init.linkname ?? '').includes('\0'))
    throw new TarError(`${where}: names and link targets cannot contain NUL`);
  let size = init.size ?? bodySize ?? 0;
  if (bodySize !== undefined && init.size !== undefined && bodySize !== init.size) {
    throw new TarError(`${where}: header.size ${init.size} differs from the body's ${bodySize} bytes`);
  }
  if (type !== 'file') {
    if (size !== 0) throw new TarError(`${where}: a ${type} entry carries no data, but size ${size} was given`);
    size = 0;
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new TarError(`${where}: invalid size ${size}`);
  return { init, name, type, size };
}

/**
 * Encodes an entry's header blocks: any PAX or GNU long-name entries, then the ustar block.
 * Deterministic: the same header gives the same bytes; nothing about the host is consulted.
 */
export function encodeTarHeader(entry: ResolvedEntry, format: TarWriteFormat = 'pax'): Uint8Array {
  const { init, name, type, size } = entry;
  const where = `tar entry "${name}"`;
  const gnu = format === 'gnu';
  const pax = new Map<string, Uint8Array>();
  const needPax = (key: string, value: string | Uint8Array): void => {
    if (format !== 'pax')
      throw new TarError(
        `${where}: ${key} needs a PAX header, which the ${format} format cannot hold; use format "pax"`,
      );
    pax.set(key, typeof value === 'string' ? encodeUtf8(value) : value);
  };
  const linkname = init.linkname ?? '';
  const mode = init.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644);
  const uid = init.uid ?? 0;
  const gid = init.gid ?? 0;
  const uname = init.uname ?? '';
  const gname = init.gname ?? '';
  const mtime = toSeconds(init.mtime) ?? 0;
  const nameBytes = encodeUtf8(name);
  const linkBytes = encodeUtf8(linkname);
  const blocks: Uint8Array[] = [];

  let nameField = nameBytes;
  let prefix: Uint8Array = new Uint8Array(0);
  if (gnu) {
    if (nameBytes.length > 100) blocks.push(...gnuLongEntry('L', nameBytes, where));
    nameField = nameBytes.subarray(0, 100);
  } else {
    const split = splitUstarPath(nameBytes);
    if (split && (format === 'ustar' || isAscii(name))) {
      nameField = split.name;
      prefix = split.prefix;
    } else {
      needPax('path', nameBytes);
      nameField = asciiTruncate(name, 100);
    }
  }
  let linkField = linkBytes;
  if (linkBytes.length > 100 || (format === 'pax' && !isAscii(linkname))) {
    if (gnu) blocks.push(...gnuLongEntry('K', linkBytes, where));
    else needPax('linkpath', linkBytes);
    linkField = gnu ? linkBytes.subarray(0, 100) : asciiTruncate(linkname, 100);
  }
  let sizeField = size;
  if (!fitsOctal(size, 12) && format !== 'gnu') {
    needPax('size', String(size));
    sizeField = 0;
  }
  const idField = (key: 'uid' | 'gid', v: number): number => {
    if (!Number.isSafeInteger(v) || v < 0) throw new TarError(`${where}: invalid ${key} ${v}`);
    if (fitsOctal(v, 8) || gnu) return v;
    needPax(key, String(v));
    return 0;
  };
  const uidField = idField('uid', uid);
  const gidField = idField('gid', gid);
  const userField = (key: 'uname' | 'gname', v: string): Uint8Array => {
    const bytes = encodeUtf8(v);
    if (bytes.length <= 32 && (format !== 'pax' || isAscii(v))) return bytes;
    if (format === 'pax') {
      needPax(key, bytes);
      return asciiTruncate(v, 32);
    }
    throw new TarError(`${where}: ${key} "${v}" is longer than 32 bytes; use format "pax"`);
  };
  const unameField = userField('uname', uname);
  const gnameField = userField('gname', gname);
  let mtimeField = Math.floor(mtime);
  if (format === 'pax' && (!Number.isInteger(mtime) || !fitsOctal(mtime, 12))) {
    needPax('mtime', formatPaxTime(mtime));
    mtimeField = fitsOctal(mtimeField, 12) ? mtimeField : 0;
  } else if (format === 'ustar' && !fitsOctal(mtimeField, 12)) {
    throw new TarError(`${where}: mtime ${mtime} does not fit a ustar header; use format "pax"`);
  }
  for (const key of ['atime', 'ctime'] as const) {
    const t = toSeconds(init[key]);
    if (t !== undefined) needPax(key, formatPaxTime(t));
  }
  if (init.xattrs) {
    for (const key of Object.keys(init.xattrs).sort()) {
      const v = init.xattrs[key]!;
      needPax(`SCHILY.xattr.${key}`, typeof v === 'string' ? encodeUtf8(v) : v);
    }
  }
  if (init.pax) for (const key of Object.keys(init.pax).sort()) needPax(key, init.pax[key]!);
  if (pax.size > 0) {
    const records = concat([...pax.entries()].map(([k, v]) => paxRecord(k, v)));
    const slash = name.replace(/\/$/, '').lastIndexOf('/');
    const dir = slash >= 0 ? name.slice(0, slash + 1) : '';
    const base = name.slice(slash + 1).replace(/\/$/, '');
    const paxName = asciiTruncate(`${dir}PaxHeaders.0/${base}`, 100);
    blocks.push(
      encodeBlock(
        {
          name: paxName,
          prefix: new Uint8Array(0),
          mode: 0o644,
          uid: 0,
          gid: 0,
          size: records.length,
          mtime: 0,
          typeflag: 'x',
          linkname: new Uint8Array(0),
          uname: new Uint8Array(0),
          gname: new Uint8Array(0),
          devmajor: 0,
          devminor: 0,
        },
        false,
        where,
      ),
      padded(records),
    );
  }
  const isDevice = type === 'char-device' || type === 'block-device';
  blocks.push(
    encodeBlock(
      {
        name: nameField,
        prefix,
        mode,
        uid: uidField,
        gid: gidField,
        size: sizeField,
        mtime: mtimeField,
        typeflag: typeflagOf[type],
        linkname: linkField,
        uname: unameField,
        gname: gnameField,
        devmajor: isDevice ? (init.devmajor ?? 0) : 0,
        devminor: isDevice ? (init.devminor ?? 0) : 0,
      },
      gnu,
      where,
    ),
  );
  return concat(blocks);
}

function gnuLongEntry(flag: 'L' | 'K', bytes: Uint8Array, where: string): Uint8Array[] {
  const data = new Uint8Array(bytes.length + 1);
  data.set(bytes);
  return [
    encodeBlock(
      {
        name: encodeUtf8('././@LongLink'),
        prefix: new Uint8Array(0),
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: data.length,
        mtime: 0,
        typeflag: flag,
        linkname: new Uint8Array(0),
        uname: new Uint8Array(0),
        gname: new Uint8Array(0),
        devmajor: 0,
        devminor: 0,
      },
      true,
      where,
    ),
    padded(data),
  ];
}

/** The first `max` bytes of a string's ASCII-safe form (for header fields PAX overrides). */
function asciiTruncate(s: string, max: number): Uint8Array {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    out += c >= 0x20 && c < 0x7f ? ch : '_';
    if (out.length >= max) break;
  }
  return encodeUtf8(out.slice(0, max));
}

function bodyBytesOf(body: TarWriteEntry['body']): Uint8Array | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return encodeUtf8(body);
  if (body instanceof Uint8Array) return body;
  return undefined;
}

/** The byte chunks of one entry: header blocks, body, padding. */
async function* entryChunks(entry: TarWriteEntry, format: TarWriteFormat): AsyncGenerator<Uint8Array, void, undefined> {
  const bytes = bodyBytesOf(entry.body);
  const stream = entry.body instanceof ReadableStream ? entry.body : undefined;
  if (stream && entry.header.size === undefined) {
    await stream.cancel();
    throw new TarError(`tar entry "${entry.header.name}": a stream body needs header.size`);
  }
  let resolved: ResolvedEntry;
  try {
    resolved = resolveEntry(entry.header, bytes?.length);
    if (stream && resolved.type !== 'file') throw new TarError(`tar entry "${resolved.name}": only files carry a body`);
  } catch (e) {
    await stream?.cancel(e);
    throw e;
  }
  yield encodeTarHeader(resolved, format);
  const { size, name } = resolved;
  if (bytes) {
    if (bytes.length > 0) yield bytes;
  } else if (stream) {
    const reader = stream.getReader();
    let seen = 0;
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        seen += r.value.length;
        if (seen > size) throw new TarError(`tar entry "${name}": the body is longer than the declared ${size} bytes`);
        if (r.value.length > 0) yield r.value;
      }
    } catch (e) {
      await reader.cancel(e).catch(() => {});
      throw e;
    } finally {
      reader.releaseLock();
    }
    if (seen !== size)
      throw new TarError(`tar entry "${name}": the body ended after ${seen} of the declared ${size} bytes`);
  }
  const pad = (BLOCK - (size % BLOCK)) % BLOCK;
  if (pad) yield new Uint8Array(pad);
}

function compareNames(a: TarWriteEntry, b: TarWriteEntry): number {
  return a.header.name < b.header.name ? -1 : a.header.name > b.header.name ? 1 : 0;
}

/**
 * Writes entries as a tar stream, pulled as the consumer reads (bodies stream through; nothing is buffered),
 * ending with two zero blocks. Same entries → byte-identical output.
 *
 * @example
 * const tar = writeTar([{ header: { name: 'hello.txt' }, body: 'hi\n' }]);
 */
export function writeTar(
  entries: Iterable<TarWriteEntry> | AsyncIterable<TarWriteEntry>,
  options: TarWriteOptions = {},
): ReadableStream<Uint8Array> {
  const format = options.format ?? 'pax';
  const source =
    options.sort && Array.isArray(entries) ? [...(entries as TarWriteEntry[])].sort(compareNames) : entries;
  async function* all(): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const entry of source) {
      options.signal?.throwIfAborted();
      yield* entryChunks(entry, format);
    }
    yield new Uint8Array(END_OF_ARCHIVE);
  }
  const gen = all();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const r = await gen.next();
        if (r.done) controller.close();
        else controller.enqueue(r.value);
      },
      async cancel(reason) {
        await gen.throw(reason).catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

/** A push-style tar writer: add entries one at a time (each resolves once its bytes were taken), then close. */
export interface TarWriter {
  readonly readable: ReadableStream<Uint8Array>;
  /** `onContent(offset)`: where the entry's content starts in the tar stream, once its header is out. */
  add(entry: TarWriteEntry, hooks?: { onContent?: (offset: number) => void }): Promise<void>;
  close(): Promise<void>;
  abort(reason?: unknown): Promise<void>;
}

/** Creates a push-style {@link TarWriter}; the consumer's reading paces `add`. */
export function createTarWriter(options: Omit<TarWriteOptions, 'sort'> = {}): TarWriter {
  const format = options.format ?? 'pax';
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>(
    undefined,
    { highWaterMark: 1 },
    { highWaterMark: 0 },
  );
  const writer = writable.getWriter();
  let chain: Promise<void> = Promise.resolve();
  /** Bytes handed to the readable so far. */
  let offset = 0;
  const enqueue = (job: () => Promise<void>): Promise<void> => {
    const p = chain.then(job);
    chain = p.catch(() => {});
    return p;
  };
  return {
    readable,
    add: (entry, hooks) =>
      enqueue(async () => {
        try {
          let first = true;
          for await (const chunk of entryChunks(entry, format)) {
            offset += chunk.byteLength;
            // entryChunks yields the whole header (PAX records included) as its first chunk
            if (first) hooks?.onContent?.(offset);
            first = false;
            await writer.write(chunk);
          }
        } catch (e) {
          await writer.abort(e).catch(() => {});
          throw e;
        }
      }),
    close: () =>
      enqueue(async () => {
        offset += END_OF_ARCHIVE;
        await writer.write(new Uint8Array(END_OF_ARCHIVE));
        await writer.close();
      }),
    abort: (reason) => enqueue(() => writer.abort(reason)),
  };
}
