import { TarError } from '../errors.js';

/** What a tar entry is. `other` covers typeflags lade does not interpret (volume labels, multi-volume parts, vendor types). */
export type TarEntryType =
  | 'file'
  | 'hardlink'
  | 'symlink'
  | 'char-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'other';

/** The header layout an entry was read in. */
export type TarFormat = 'v7' | 'ustar' | 'gnu' | 'pax';

/** How a GNU sparse file was stored (lade expands PAX sparse 1.0 into the full file; older variants are read as their stored data). */
export interface TarSparseInfo {
  readonly major: number;
  readonly minor: number;
  /** Size of the full file; equals `size` when lade expanded it. */
  readonly realSize: number;
  /** True when the body is the expanded file (holes as zeros); false when it is the stored data only. */
  readonly expanded: boolean;
}

/** A tar entry's header as read: PAX, GNU long names and global headers already applied. */
export interface TarHeader {
  readonly name: string;
  readonly type: TarEntryType;
  /** The raw typeflag character (`'0'`, `'5'`, `'x'`…). */
  readonly typeflag: string;
  /** Body size in bytes (for an expanded sparse file, the full size). */
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  /** Modification time in seconds since the epoch; PAX gives fractions. */
  readonly mtime: number;
  readonly atime?: number;
  readonly ctime?: number;
  readonly linkname: string;
  readonly devmajor: number;
  readonly devminor: number;
  /** Extended attributes from `SCHILY.xattr.*` records (values are raw bytes). */
  readonly xattrs?: Readonly<Record<string, Uint8Array>>;
  /** Every PAX record that applied to this entry (global then local), keys as written. */
  readonly pax?: Readonly<Record<string, string>>;
  readonly sparse?: TarSparseInfo;
  readonly format: TarFormat;
  /** Byte offset of the entry's first header block in the (uncompressed) archive. */
  readonly offset: number;
  /** Byte offset of the entry's stored data (for reading a file range later; not meaningful for an expanded sparse file). */
  readonly dataOffset: number;
}

/** The header fields a writer accepts; everything but `name` has a deterministic default (uid/gid 0, mtime 0, no user names). */
export interface TarEntryInit {
  readonly name: string;
  /** Defaults to `file` (`directory` when the name ends with `/`). */
  readonly type?: Exclude<TarEntryType, 'other'>;
  /** Required for stream bodies; derived from byte and string bodies. */
  readonly size?: number;
  /** Permission bits (and setuid/setgid/sticky); defaults to 0o644, 0o755 for directories, 0o777 for symlinks. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly uname?: string;
  readonly gname?: string;
  /** Seconds since the epoch (fractions go to PAX) or a Date. Defaults to 0 for reproducible output. */
  readonly mtime?: number | Date;
  readonly atime?: number | Date;
  readonly ctime?: number | Date;
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  readonly xattrs?: Readonly<Record<string, Uint8Array | string>>;
  /** Extra PAX records, written verbatim (they win over computed ones); pax format only. */
  readonly pax?: Readonly<Record<string, string>>;
}

export const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const typeflagOf: Readonly<Record<Exclude<TarEntryType, 'other'>, string>> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  'char-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

/** The entry type of a typeflag as found in a header. */
export function entryTypeOf(typeflag: string, name: string): TarEntryType {
  switch (typeflag) {
    case '0':
    case '7': // contiguous file: a regular file everywhere that matters
    case 'S': // old GNU sparse: read as its stored data
      return 'file';
    case '\0':
      return name.endsWith('/') ? 'directory' : 'file'; // v7 marked directories by a trailing slash only
    case '1':
      return 'hardlink';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
    case 'D': // GNU dumpdir: a directory with a listing as body
      return 'directory';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

/** Decodes a NUL-terminated field as UTF-8 (invalid bytes become U+FFFD). */
export function decodeString(field: Uint8Array): string {
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Parses an octal or base-256 numeric field; returns undefined for garbage. */
export function parseNumeric(field: Uint8Array): number | undefined {
  const first = field[0] ?? 0;
  if (first & 0x80) {
    // GNU base-256: big-endian two's complement after the 0x80 marker bit; 0x40 is the sign.
    const inv = first & 0x40 ? 0xff : 0;
    let v = 0n;
    for (let i = 0; i < field.length; i++) {
      let c = field[i]! ^ inv;
      if (i === 0) c &= 0x7f;
      v = (v << 8n) | BigInt(c);
    }
    if (inv) v = -v - 1n;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
    return Number(v);
  }
  let i = 0;
  let end = field.length;
  while (i < end && (field[i] === 0x20 || field[i] === 0)) i++;
  const nul = field.indexOf(0, i);
  if (nul >= 0) end = nul;
  while (end > i && field[end - 1] === 0x20) end--;
  let v = 0;
  for (let j = i; j < end; j++) {
    const c = field[j]!;
    if (c < 0x30 || c > 0x37) return undefined;
    v = v * 8 + (c - 0x30);
  }
  if (v > Number.MAX_SAFE_INTEGER) return undefined;
  return v;
}

/** Unsigned and signed header checksums (old tars used signed bytes), with the checksum field read as spaces. */
export function headerChecksums(block: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

/** The raw fields of one 512-byte header block. */
export interface RawHeader {
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtime: number;
  readonly typeflag: string;
  readonly linkname: string;
  readonly uname: string;
  readonly gname: string;
  readonly devmajor: number;
  readonly devminor: number;
  readonly format: 'v7' | 'ustar' | 'gnu';
}

/** Parses and checks one header block; `where` names it in errors. */
export function parseHeaderBlock(block: Uint8Array, where: (name: string) => string): RawHeader {
  const rawName = decodeString(block.subarray(0, 100));
  const stored = parseNumeric(block.subarray(148, 156));
  const sums = headerChecksums(block);
  if (stored === undefined || (stored !== sums.unsigned && stored !== sums.signed)) {
    throw new TarError(
      `${where(rawName)}: header checksum mismatch (stored ${stored ?? 'garbage'}, computed ${sums.unsigned}); the archive is corrupt or not a tar`,
    );
  }
  const magic = decodeString(block.subarray(257, 263));
  const version = block.subarray(263, 265);
  const format: RawHeader['format'] =
    magic === 'ustar' && version[0] === 0x30
      ? 'ustar'
      : magic === 'ustar ' || (magic === 'ustar' && version[0] === 0x20)
        ? 'gnu'
        : magic === 'ustar'
          ? 'ustar'
          : 'v7';
  let name = rawName;
  if (format === 'ustar') {
    const prefix = decodeString(block.subarray(345, 500));
    if (prefix) name = `${prefix}/${rawName}`;
  }
  const typeflag = String.fromCharCode(block[156]!);
  const num = (start: number, len: number, field: string, required: boolean): number => {
    const v = parseNumeric(block.subarray(start, start + len));
    if (v === undefined) {
      if (!required) return 0;
      throw new TarError(`${where(name)}: the ${field} field is not a valid number; the archive is corrupt`);
    }
    return v;
  };
  const size = num(124, 12, 'size', true);
  if (size < 0) throw new TarError(`${where(name)}: negative size ${size}; the archive is corrupt`);
  const hasUstarFields = format !== 'v7';
  return {
    name,
    mode: num(100, 8, 'mode', false),
    uid: num(108, 8, 'uid', false),
    gid: num(116, 8, 'gid', false),
    size,
    mtime: num(136, 12, 'mtime', false),
    typeflag,
    linkname: decodeString(block.subarray(157, 257)),
    uname: hasUstarFields ? decodeString(block.subarray(265, 297)) : '',
    gname: hasUstarFields ? decodeString(block.subarray(297, 329)) : '',
    devmajor: hasUstarFields ? num(329, 8, 'devmajor', false) : 0,
    devminor: hasUstarFields ? num(337, 8, 'devminor', false) : 0,
    format,
  };
}

/** One PAX record: key and raw value bytes. */
export interface PaxRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

/** Parses the body of a PAX `x` or `g` header into records. */
export function parsePaxRecords(data: Uint8Array, where: string): PaxRecord[] {
  const records: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // some writers pad with NULs
    let sp = pos;
    let len = 0;
    while (sp < data.length && data[sp]! >= 0x30 && data[sp]! <= 0x39 && sp - pos < 12) {
      len = len * 10 + (data[sp]! - 0x30);
      sp++;
    }
    if (
      sp === pos ||
      data[sp] !== 0x20 ||
      len <= sp - pos + 1 ||
      pos + len > data.length ||
      data[pos + len - 1] !== 0x0a
    ) {
      throw new TarError(`${where}: malformed PAX record at byte ${pos}; the archive is corrupt`);
    }
    const rec = data.subarray(sp + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw new TarError(`${where}: PAX record without a key at byte ${pos}; the archive is corrupt`);
    records.push({ key: decoder.decode(rec.subarray(0, eq)), value: rec.subarray(eq + 1) });
    pos += len;
  }
  return records;
}

/** Parses a PAX decimal time (`1700000000.123456789`, possibly negative). */
export function parsePaxTime(value: string): number | undefined {
  if (!/^-?\d+(\.\d+)?$/.test(value)) return undefined;
  const v = Number(value);
  return Number.isFinite(v) ? v : undefined;
}

/** Parses a PAX decimal integer (non-negative, safe). */
export function parsePaxInt(value: string): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const v = Number(value);
  return Number.isSafeInteger(v) ? v : undefined;
}

export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}

export function decodeUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}
