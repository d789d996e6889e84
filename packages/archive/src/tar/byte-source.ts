/** Where a tar reader takes its bytes from: a stream, or a file it can skip through without reading. */
export interface ByteInput {
  /** Bytes handed out (or skipped) so far. */
  readonly offset: number;
  readUpTo(max: number): Promise<Uint8Array | null>;
  readExact(n: number): Promise<Uint8Array>;
  skip(n: number): Promise<number>;
  cancel(reason?: unknown): Promise<void>;
}

/** Pulls exact byte counts out of a ReadableStream without copying when a chunk already holds them. */
export class ByteSource implements ByteInput {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private ended = false;
  /** Bytes handed out (or skipped) so far. */
  offset = 0;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.reader = stream.getReader();
  }

  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.length) {
      if (this.ended) return false;
      const r = await this.reader.read();
      if (r.done) {
        this.ended = true;
        return false;
      }
      this.chunk = r.value;
      this.pos = 0;
    }
    return true;
  }

  /** Up to `max` bytes (a view into the source's chunk), or null at the end of the stream. */
  async readUpTo(max: number): Promise<Uint8Array | null> {
    if (max <= 0) return new Uint8Array(0);
    if (!(await this.fill())) return null;
    const n = Math.min(max, this.chunk.length - this.pos);
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  /** Exactly `n` bytes, or fewer when the stream ends first (the caller decides whether that is an error). */
  async readExact(n: number): Promise<Uint8Array> {
    if (!(await this.fill())) return new Uint8Array(0);
    if (this.chunk.length - this.pos >= n) {
      const out = this.chunk.subarray(this.pos, this.pos + n);
      this.pos += n;
      this.offset += n;
      return out;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = await this.readUpTo(n - got);
      if (!part) return out.subarray(0, got);
      out.set(part, got);
      got += part.length;
    }
    return out;
  }

  /** Skips `n` bytes; returns how many were skipped (fewer at the end of the stream). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const part = await this.readUpTo(left);
      if (!part) break;
      left -= part.length;
    }
    return n - left;
  }

  /** Reads and discards everything that is left. */
  async drain(): Promise<void> {
    while (await this.readUpTo(Number.MAX_SAFE_INTEGER)) {
      /* discard */
    }
  }

  async cancel(reason?: unknown): Promise<void> {
    this.ended = true;
    this.chunk = new Uint8Array(0);
    this.pos = 0;
    await this.reader.cancel(reason).catch(() => {});
  }
}

type FileHandle = import('node:fs/promises').FileHandle;

/**
 * Positional reads from a file: skipping a body moves the position instead of reading it,
 * so indexing an uncompressed archive costs a few reads per entry whatever the layer sizes.
 */
export class FileByteSource implements ByteInput {
  private buf = new Uint8Array(0);
  private pos = 0;
  private filePos = 0;
  private closed = false;
  offset = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly size: number,
    private readonly chunk = 256 * 1024,
  ) {}

  private async fill(): Promise<boolean> {
    if (this.pos < this.buf.length) return true;
    if (this.closed || this.filePos >= this.size) return false;
    const buf = new Uint8Array(Math.min(this.chunk, this.size - this.filePos));
    const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.filePos);
    if (bytesRead === 0) return false;
    this.buf = buf.subarray(0, bytesRead);
    this.pos = 0;
    this.filePos += bytesRead;
    return true;
  }

  async readUpTo(max: number): Promise<Uint8Array | null> {
    if (max <= 0) return new Uint8Array(0);
    if (!(await this.fill())) return null;
    const n = Math.min(max, this.buf.length - this.pos);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.offset += n;
    return out;
  }

  async readExact(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const part = await this.readUpTo(n - got);
      if (!part) return out.subarray(0, got);
      out.set(part, got);
      got += part.length;
    }
    return out;
  }

  async skip(n: number): Promise<number> {
    const inBuf = Math.min(n, this.buf.length - this.pos);
    this.pos += inBuf;
    this.offset += inBuf;
    const rest = Math.min(n - inBuf, Math.max(0, this.size - this.filePos));
    this.filePos += rest;
    this.offset += rest;
    return inBuf + rest;
  }

  async cancel(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => {});
  }
}
