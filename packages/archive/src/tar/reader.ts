import { readBounded } from '@lade/manifest';
import { TarError } from '../errors.js';
import { type ByteInput, ByteSource, FileByteSource } from './byte-source.js';
import {
  BLOCK,
  decodeUtf8,
  entryTypeOf,
  isZeroBlock,
  type PaxRecord,
  parseHeaderBlock,
  parsePaxInt,
  parsePaxRecords,
  parsePaxTime,
  type TarFormat,
  type TarHeader,
  type TarSparseInfo,
} from './header.js';

/** Options of {@link readTar}. */
export interface TarReadOptions {
  /** Largest PAX header, GNU long name or sparse map accepted, in bytes (default 1 MiB): a bound on what the reader holds in memory. */
  readonly maxMetadataSize?: number;
  /** Abort reading; the pending read rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** One entry: its header and its body, which must be consumed or abandoned before the next entry is read. */
export interface TarEntry {
  readonly header: TarHeader;
  /** The entry's content; reading ahead to the next entry skips what was not read. */
  readonly body: ReadableStream<Uint8Array>;
  /** Reads the whole body into memory, refusing bodies larger than `limit` bytes (default 4 MiB). */
  bytes(limit?: number): Promise<Uint8Array>;
  /** The body as UTF-8 text (same limit as {@link TarEntry.bytes}). */
  text(limit?: number): Promise<string>;
}

interface SparseSegment {
  readonly offset: number;
  readonly length: number;
}

const DEFAULT_META = 1024 * 1024;
const ZEROS_CHUNK = 64 * 1024;

/** Produces an entry's body from the archive, tracking how much of the stored data is left. */
class EntryBody {
  storedLeft: number;
  private logical = 0;
  private seg = 0;
  private inflight: Promise<unknown> = Promise.resolve();
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  closed = false;
  readonly stream: ReadableStream<Uint8Array>;

  constructor(
    private readonly src: ByteInput,
    stored: number,
    private readonly logicalSize: number,
    private readonly segments: readonly SparseSegment[] | undefined,
    private readonly describe: () => string,
    private readonly onError: (e: unknown) => void,
  ) {
    this.storedLeft = stored;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
        },
        pull: (c) => {
          const p = this.produce().then(
            (chunk) => {
              if (this.closed) return;
              if (chunk) c.enqueue(chunk);
              else {
                this.closed = true;
                c.close();
              }
            },
            (e: unknown) => {
              if (!this.closed) {
                this.closed = true;
                c.error(e);
              }
              this.onError(e);
            },
          );
          this.inflight = p;
          return p;
        },
        cancel: () => {
          this.closed = true;
        },
      },
      { highWaterMark: 0 },
    );
  }

  private truncated(): TarError {
    return new TarError(`${this.describe()}: the archive ends inside this entry's data; it is truncated`);
  }

  private async readStored(max: number): Promise<Uint8Array> {
    const part = await this.src.readUpTo(Math.min(max, this.storedLeft));
    if (!part) throw this.truncated();
    this.storedLeft -= part.length;
    return part;
  }

  /** The next piece of the body, or null at its end. */
  async produce(): Promise<Uint8Array | null> {
    if (!this.segments) {
      if (this.storedLeft === 0) return null;
      return this.readStored(Number.MAX_SAFE_INTEGER);
    }
    // Sparse: data segments at their offsets, zeros in the holes and up to the real size.
    while (this.seg < this.segments.length) {
      const s = this.segments[this.seg]!;
      if (this.logical < s.offset) {
        const n = Math.min(ZEROS_CHUNK, s.offset - this.logical);
        this.logical += n;
        return new Uint8Array(n);
      }
      const end = s.offset + s.length;
      if (this.logical < end) {
        const part = await this.readStored(end - this.logical);
        this.logical += part.length;
        return part;
      }
      this.seg++;
    }
    if (this.logical < this.logicalSize) {
      const n = Math.min(ZEROS_CHUNK, this.logicalSize - this.logical);
      this.logical += n;
      return new Uint8Array(n);
    }
    return null;
  }

  /** Waits for a pending read, then skips what the consumer left and ends the body stream. */
  async finish(): Promise<void> {
    await this.inflight.catch(() => {});
    if (this.storedLeft > 0) {
      const skipped = await this.src.skip(this.storedLeft);
      this.storedLeft -= skipped;
      if (this.storedLeft > 0) throw this.truncated();
    }
    if (!this.closed) {
      this.closed = true;
      try {
        this.controller?.close();
      } catch {
        /* already closed by a cancel */
      }
    }
  }
}

/**
 * A pull-based tar reader: `for await (const entry of readTar(stream))`. Each entry's body streams straight
 * from the archive (nothing is buffered); moving to the next entry skips what the previous body left unread.
 * Leaving the loop early cancels the source stream.
 *
 * Reads v7, ustar, GNU (long names and links, base-256 numbers) and PAX (local and global headers,
 * `SCHILY.xattr.*`, fractional times). GNU sparse files in the PAX 1.0 format are expanded into the full file;
 * older sparse variants (0.0, 0.1, old GNU `S`) are read as their stored data, with `header.sparse.expanded` false.
 *
 * @throws TarError (`TAR_INVALID`) on a bad checksum, a truncated archive, an invalid number, a NUL in a path,
 *   or metadata beyond `maxMetadataSize`; the message names the entry and its offset.
 */
export function readTar(stream: ReadableStream<Uint8Array>, options: TarReadOptions = {}): TarReader {
  return new TarReader(stream, options);
}

/**
 * Reads an uncompressed tar file like {@link readTar}, but skips unread bodies by seeking instead of reading them:
 * listing or indexing a multi-GiB archive touches only its headers.
 */
export async function readTarFile(path: string, options: TarReadOptions = {}): Promise<TarReader> {
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  return new TarReader(new FileByteSource(fh, size), options);
}

/** Iterates the entries of a tar stream; see {@link readTar}. */
export class TarReader implements AsyncIterable<TarEntry> {
  private readonly src: ByteInput;
  private readonly maxMeta: number;
  private readonly signal: AbortSignal | undefined;
  private current: EntryBody | undefined;
  private global: Record<string, string> = {};
  private globalXattrs: Record<string, Uint8Array> = {};
  private done = false;
  private failure: unknown;
  private lastName = '';

  constructor(stream: ReadableStream<Uint8Array> | ByteInput, options: TarReadOptions = {}) {
    this.src = stream instanceof ReadableStream ? new ByteSource(stream) : stream;
    this.maxMeta = options.maxMetadataSize ?? DEFAULT_META;
    this.signal = options.signal;
  }

  private recordFailure(e: unknown): void {
    this.failure ??= e;
    this.done = true;
    void this.src.cancel(e);
  }

  private fail(e: unknown): never {
    this.failure ??= e;
    this.done = true;
    void this.src.cancel(e);
    throw e;
  }

  /** The next entry, or null at the end of the archive. */
  next(): Promise<TarEntry | null> {
    // Calls queue up: a second next() while one is reading waits for it instead of interleaving reads.
    const result = this.queue.then(() => this.advance());
    this.queue = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private queue: Promise<void> = Promise.resolve();

  private async advance(): Promise<TarEntry | null> {
    if (this.failure) throw this.failure;
    if (this.done) return null;
    try {
      this.signal?.throwIfAborted();
      if (this.current) {
        const body = this.current;
        this.current = undefined;
        await body.finish();
        const pad = (BLOCK - (this.src.offset % BLOCK)) % BLOCK;
        if (pad && (await this.src.skip(pad)) < pad) {
          // Padding missing at the very end is harmless; anything after it would be misaligned anyway.
          this.done = true;
          return null;
        }
      }
      return await this.readEntry();
    } catch (e) {
      this.fail(e);
    }
  }

  private where(offset: number): (name: string) => string {
    return (name) => `tar entry "${name || '(unnamed)'}" at offset ${offset}`;
  }

  private async readMeta(size: number, what: string, at: number): Promise<Uint8Array> {
    if (size > this.maxMeta) {
      throw new TarError(
        `${what} at offset ${at}: ${size} bytes exceed the ${this.maxMeta}-byte metadata limit; the archive is corrupt or hostile`,
      );
    }
    const data = await this.src.readExact(size);
    if (data.length < size) throw new TarError(`${what} at offset ${at}: the archive ends inside it; it is truncated`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if ((await this.src.skip(pad)) < pad)
      throw new TarError(`${what} at offset ${at}: the archive ends inside its padding; it is truncated`);
    // Copy: the view may alias a chunk the consumer never sees, but we keep it beyond the next read.
    return data.slice();
  }

  private async readEntry(): Promise<TarEntry | null> {
    const local: Record<string, string> = {};
    const localXattrs: Record<string, Uint8Array> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    let sawPax = false;
    const entryOffset = this.src.offset;
    for (;;) {
      const at = this.src.offset;
      const block = await this.src.readExact(BLOCK);
      if (block.length === 0) {
        if (at !== entryOffset)
          throw new TarError(
            `tar entry after "${this.lastName}": the archive ends after an extended header, before its entry; it is truncated`,
          );
        this.done = true; // a stream ending on a header boundary without the end marker, as Go's reader accepts
        return null;
      }
      if (block.length < BLOCK)
        throw new TarError(
          `tar header at offset ${at} (after "${this.lastName || 'the start'}"): the archive ends inside it; it is truncated`,
        );
      if (isZeroBlock(block)) {
        if (at !== entryOffset)
          throw new TarError(
            `tar entry after "${this.lastName}": an end-of-archive block follows an extended header; the archive is corrupt`,
          );
        this.done = true;
        await this.src.cancel();
        return null;
      }
      const raw = parseHeaderBlock(block, this.where(at));
      const what = `the ${raw.typeflag === 'x' || raw.typeflag === 'g' ? 'PAX' : 'GNU long-name'} header at offset ${at} (after "${this.lastName || 'the start'}")`;
      switch (raw.typeflag) {
        case 'x':
        case 'g': {
          const records = parsePaxRecords(await this.readMeta(raw.size, what, at), what);
          if (raw.typeflag === 'g') this.applyRecords(records, this.global, this.globalXattrs, true);
          else this.applyRecords(records, local, localXattrs, false);
          sawPax = true;
          continue;
        }
        case 'L':
        case 'K': {
          const text = decodeUtf8(trimNul(await this.readMeta(raw.size, what, at)));
          if (text.includes('\0'))
            throw new TarError(
              `${what}: the long ${raw.typeflag === 'L' ? 'name' : 'link target'} contains a NUL byte; the archive is corrupt`,
            );
          if (raw.typeflag === 'L') longName = text;
          else longLink = text;
          continue;
        }
        default:
          break;
      }
      const pax = { ...this.global, ...local };
      const name = pax.path ?? longName ?? raw.name;
      const where = this.where(entryOffset)(name);
      const linkname = pax.linkpath ?? longLink ?? raw.linkname;
      if (name.includes('\0'))
        throw new TarError(`${where}: the path contains a NUL byte; the archive is corrupt or hostile`);
      if (linkname.includes('\0'))
        throw new TarError(`${where}: the link target contains a NUL byte; the archive is corrupt or hostile`);
      const paxNumber = (key: string, parse: (v: string) => number | undefined, fallback: number): number => {
        const v = pax[key];
        if (v === undefined) return fallback;
        const n = parse(v);
        if (n === undefined)
          throw new TarError(`${where}: PAX ${key}="${v.slice(0, 40)}" is not a valid number; the archive is corrupt`);
        return n;
      };
      let size = paxNumber('size', parsePaxInt, raw.size);
      const type = entryTypeOf(raw.typeflag, name);
      const format: TarFormat = sawPax ? 'pax' : raw.format;
      // Links, devices, directories and fifos carry no data, except where old writers stored some anyway (skipped).
      const stored = size;
      const xattrs = { ...this.globalXattrs, ...localXattrs };
      let sparse: TarSparseInfo | undefined;
      let segments: SparseSegment[] | undefined;
      let finalName = name;
      const major = pax['GNU.sparse.major'];
      const minor = pax['GNU.sparse.minor'];
      if (major === '1' && minor === '0' && type === 'file') {
        const realSize = paxNumber('GNU.sparse.realsize', parsePaxInt, size);
        finalName = pax['GNU.sparse.name'] ?? name;
        if (finalName.includes('\0')) throw new TarError(`${where}: the sparse file name contains a NUL byte`);
        const map = await this.readSparseMap(stored, where);
        segments = map.segments;
        for (const s of segments) {
          if (s.offset + s.length > realSize)
            throw new TarError(
              `${where}: a sparse segment lies beyond the file's real size ${realSize}; the archive is corrupt`,
            );
        }
        const dataBytes = segments.reduce((a, s) => a + s.length, 0);
        if (dataBytes !== stored - map.consumed)
          throw new TarError(
            `${where}: the sparse map describes ${dataBytes} data bytes but ${stored - map.consumed} are stored; the archive is corrupt`,
          );
        sparse = { major: 1, minor: 0, realSize, expanded: true };
        size = realSize;
        const body = new EntryBody(
          this.src,
          stored - map.consumed,
          realSize,
          segments,
          () => this.where(entryOffset)(finalName),
          (e) => this.recordFailure(e),
        );
        return this.emit(body, {
          raw,
          finalName,
          type,
          size,
          pax,
          xattrs,
          linkname,
          format,
          entryOffset,
          sparse,
          where,
        });
      }
      if (pax['GNU.sparse.realsize'] !== undefined || pax['GNU.sparse.size'] !== undefined || raw.typeflag === 'S') {
        const realSize = paxNumber('GNU.sparse.realsize', parsePaxInt, paxNumber('GNU.sparse.size', parsePaxInt, size));
        finalName = pax['GNU.sparse.name'] ?? name;
        sparse = {
          major: major === undefined ? 0 : Number(major),
          minor: minor === undefined ? 0 : Number(minor),
          realSize,
          expanded: false,
        };
      }
      const body = new EntryBody(
        this.src,
        stored,
        stored,
        undefined,
        () => this.where(entryOffset)(finalName),
        (e) => this.recordFailure(e),
      );
      return this.emit(body, { raw, finalName, type, size, pax, xattrs, linkname, format, entryOffset, sparse, where });
    }
  }

  private emit(
    body: EntryBody,
    p: {
      raw: ReturnType<typeof parseHeaderBlock>;
      finalName: string;
      type: TarHeader['type'];
      size: number;
      pax: Record<string, string>;
      xattrs: Record<string, Uint8Array>;
      linkname: string;
      format: TarFormat;
      entryOffset: number;
      sparse: TarSparseInfo | undefined;
      where: string;
    },
  ): TarEntry {
    const { raw, pax } = p;
    const num = (key: string, parse: (v: string) => number | undefined, fallback: number): number => {
      const v = pax[key];
      if (v === undefined) return fallback;
      const n = parse(v);
      if (n === undefined)
        throw new TarError(`${p.where}: PAX ${key}="${v.slice(0, 40)}" is not a valid number; the archive is corrupt`);
      return n;
    };
    const header: {
      -readonly [K in keyof TarHeader]: TarHeader[K];
    } = {
      name: p.finalName,
      type: p.type,
      typeflag: raw.typeflag,
      size: p.size,
      mode: raw.mode,
      uid: num('uid', parsePaxInt, raw.uid),
      gid: num('gid', parsePaxInt, raw.gid),
      uname: pax.uname ?? raw.uname,
      gname: pax.gname ?? raw.gname,
      mtime: num('mtime', parsePaxTime, raw.mtime),
      linkname: p.linkname,
      devmajor: raw.devmajor,
      devminor: raw.devminor,
      format: p.format,
      offset: p.entryOffset,
      dataOffset: this.src.offset,
    };
    if (pax.atime !== undefined) header.atime = num('atime', parsePaxTime, 0);
    if (pax.ctime !== undefined) header.ctime = num('ctime', parsePaxTime, 0);
    if (Object.keys(p.xattrs).length > 0) header.xattrs = p.xattrs;
    if (Object.keys(pax).length > 0) header.pax = pax;
    if (p.sparse) header.sparse = p.sparse;
    this.current = body;
    this.lastName = p.finalName;
    const entry: TarEntry = {
      header,
      body: body.stream,
      bytes: (limit = 4 * 1024 * 1024) => readAll(body.stream, limit, p.where),
      text: async (limit = 4 * 1024 * 1024) => decodeUtf8(await readAll(body.stream, limit, p.where)),
    };
    return entry;
  }

  private applyRecords(
    records: PaxRecord[],
    into: Record<string, string>,
    xattrs: Record<string, Uint8Array>,
    global: boolean,
  ): void {
    for (const { key, value } of records) {
      if (key.startsWith('SCHILY.xattr.')) {
        const name = key.slice('SCHILY.xattr.'.length);
        if (global && value.length === 0) delete xattrs[name];
        else xattrs[name] = value;
        continue;
      }
      const v = decodeUtf8(value);
      // An empty value in a global header removes the key (POSIX); locally it overrides with "nothing".
      if (global && v === '') delete into[key];
      else into[key] = v;
    }
  }

  /** Reads the decimal sparse map that starts a PAX 1.0 sparse file's data, padded to a block. */
  private async readSparseMap(stored: number, where: string): Promise<{ segments: SparseSegment[]; consumed: number }> {
    let text = '';
    let consumed = 0;
    const numbers: number[] = [];
    let expected = -1;
    let pending = '';
    while (expected < 0 || numbers.length < 1 + 2 * expected) {
      if (consumed + BLOCK > stored || consumed + BLOCK > this.maxMeta) {
        throw new TarError(
          `${where}: the sparse map is longer than the entry or the ${this.maxMeta}-byte metadata limit; the archive is corrupt`,
        );
      }
      const block = await this.src.readExact(BLOCK);
      if (block.length < BLOCK) throw new TarError(`${where}: the archive ends inside the sparse map; it is truncated`);
      consumed += BLOCK;
      text = pending + decodeUtf8(block);
      const lines = text.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (expected >= 0 && numbers.length >= 1 + 2 * expected) break;
        const n = parsePaxInt(line);
        if (n === undefined)
          throw new TarError(
            `${where}: the sparse map holds "${line.slice(0, 20)}", not a number; the archive is corrupt`,
          );
        numbers.push(n);
        if (numbers.length === 1) expected = n;
      }
    }
    const segments: SparseSegment[] = [];
    let last = 0;
    for (let i = 0; i < expected; i++) {
      const offset = numbers[1 + 2 * i]!;
      const length = numbers[2 + 2 * i]!;
      if (offset < last)
        throw new TarError(`${where}: the sparse map's segments overlap or are out of order; the archive is corrupt`);
      last = offset + length;
      segments.push({ offset, length });
    }
    return { segments, consumed };
  }

  /** Stops reading and cancels the source stream. */
  async cancel(reason?: unknown): Promise<void> {
    this.done = true;
    await this.src.cancel(reason);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<TarEntry, void, undefined> {
    let finished = false;
    try {
      for (;;) {
        const entry = await this.next();
        if (!entry) {
          finished = true;
          return;
        }
        yield entry;
      }
    } finally {
      if (!finished && !this.done) await this.cancel();
    }
  }
}

function trimNul(b: Uint8Array): Uint8Array {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0) end--;
  return b.subarray(0, end);
}

/** Reads a stream into memory, refusing more than `limit` bytes. */
export function readAll(stream: ReadableStream<Uint8Array>, limit: number, what: string): Promise<Uint8Array> {
  return readBounded(
    stream,
    limit,
    () => new TarError(`${what}: larger than the ${limit}-byte limit for metadata read into memory`),
  );
}
