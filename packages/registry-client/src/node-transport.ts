import * as net from 'node:net';
import { setImmediate } from 'node:timers';
import * as tls from 'node:tls';
import { handOver, markOwnedChunks, releaseChunk, type Slab, slabPool } from '@lade/manifest';
import type { HttpHeaders, HttpRequest, HttpResponse, HttpTransport, TransportOptions } from './http.js';

/**
 * An HTTP/1.1 client on node:net and node:tls for requests without a body: everything a pull sends (ping, token,
 * manifests, blobs, listings), plus deletes and the body-less steps of an upload. Uploads with a body stay on
 * undici ({@link createTransport} routes them).
 *
 * Why not undici for these: receiving the 512 MiB of `bench/pull` through undici cost ~0.5 s of CPU here, through
 * this reader ~0.2 s. The socket reads straight into slabs of a pool (node:net's `onread`), and a big body is handed
 * on as views of those slabs, with ownership (@lade/manifest's owned chunks): no parser copy, no allocation per read,
 * and a reader that gives its chunks back (the store's ingest does) has the next reads land in the same memory.
 */

/** Bytes of one read slab; a slab is replaced once less than {@link MIN_READ} of it is left. */
const SLAB = 512 * 1024;
const slabs = slabPool(SLAB);
const MIN_READ = 128 * 1024;
/** Bodies shorter than this (or of unknown length) are copied out of the slab, so keeping one never pins a slab. */
const VIEW_MIN = 1024 * 1024;
/** Longest response head accepted. */
const HEAD_LIMIT = 64 * 1024;
/** Contiguous body bytes gathered into one chunk at most (see `emit`). */
const COALESCE = 256 * 1024;
/** Body bytes queued before the socket is paused. */
const BODY_HWM = 1024 * 1024;
/** A cancelled body with at most this much left is read to its end, so the connection can be used again. */
const DRAIN_MAX = 256 * 1024;
const KEEP_ALIVE_MS = 30_000;
/** A method or header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A failure of the connection or of the response's framing; `code` tells the kind (see `connectionFailure`). */
export class HttpTransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpTransportError';
    this.code = code;
  }
}

const closedEarly = () =>
  new HttpTransportError('LADE_HTTP_CLOSED', 'the connection closed before the response ended (other side closed)');
const protocolError = (what: string) => new HttpTransportError('LADE_HTTP_PROTOCOL', `bad HTTP response: ${what}`);

class ResponseHeaders implements HttpHeaders {
  readonly #map: Map<string, string>;
  constructor(map: Map<string, string>) {
    this.#map = map;
  }
  get(name: string): string | null {
    return this.#map.get(name.toLowerCase()) ?? null;
  }
}

type Framing =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; remaining: number }
  | { readonly kind: 'chunked' }
  | { readonly kind: 'close' };

/** One request/response on a connection. */
interface Exchange {
  /** Bytes of the socket (a view of a slab, valid for as long as it is referenced). */
  data(chunk: Uint8Array): void;
  /** The socket ended (FIN) or failed. */
  end(err?: Error): void;
}

/** A socket with its read slab; it serves one exchange at a time. */
class Connection {
  readonly socket: net.Socket;
  exchange: Exchange | undefined;
  /** Called when the socket was idle for the time last given to `socket.setTimeout`. */
  onTimeout: (() => void) | undefined;
  /** Set once the socket is unusable (closed, failed, or a response left it in an unknown state). */
  dead = false;
  #slab: Slab | undefined;
  #used = 0;

  constructor(url: URL, options: TransportOptions) {
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const https = url.protocol === 'https:';
    const port = Number(url.port || (https ? 443 : 80));
    const onread = {
      buffer: () => this.#nextBuffer(),
      callback: (n: number, buf: Uint8Array) => this.#received(buf, n),
    };
    this.socket = https
      ? tls.connect({
          host,
          port,
          ...(net.isIP(host) ? {} : { servername: host }),
          rejectUnauthorized: !options.insecureTls,
          ALPNProtocols: ['http/1.1'],
          // tls.connect takes `onread` like net.connect (documented, missing from @types/node's ConnectionOptions).
          ...({ onread } as object),
        })
      : net.connect({ host, port, onread });
    this.socket.setNoDelay(true);
    this.socket.on('timeout', () => this.onTimeout?.());
    this.socket.on('end', () => {
      this.dead = true;
      this.exchange?.end();
    });
    this.socket.on('error', (err) => {
      this.dead = true;
      this.exchange?.end(err);
    });
    this.socket.on('close', () => {
      this.dead = true;
      this.#slab?.seal(); // no read lands in it any more
      this.exchange?.end(closedEarly());
    });
  }

  /** Resolves once connected (and, over TLS, once the handshake is done). */
  ready(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const s = this.socket;
    const event = s instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done(new HttpTransportError('LADE_HTTP_CONNECT_TIMEOUT', `connect timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (err?: unknown) => {
        clearTimeout(timer);
        s.off(event, onOk);
        s.off('error', onErr);
        s.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else {
          s.destroy();
          reject(err);
        }
      };
      const onOk = () => done();
      const onErr = (err: Error) => done(err);
      const onClose = () => done(closedEarly());
      const onAbort = () => done(signal?.reason);
      s.once(event, onOk);
      s.once('error', onErr);
      s.once('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #nextBuffer(): Uint8Array {
    if (!this.#slab || SLAB - this.#used < MIN_READ) {
      this.#slab?.seal();
      this.#slab = slabs.take();
      this.#used = 0;
    }
    return this.#slab.bytes.subarray(this.#used);
  }

  #received(buf: Uint8Array, n: number): boolean {
    this.#used += n;
    if (this.exchange) this.exchange.data(buf.subarray(0, n));
    else this.destroy(); // bytes nobody asked for: the connection's state is unknown
    return true;
  }

  destroy(): void {
    this.dead = true;
    this.socket.destroy();
  }
}

/** The connections of one origin: at most `max` at once, idle ones kept for {@link KEEP_ALIVE_MS}. */
class OriginPool {
  readonly #idle: Connection[] = [];
  readonly #waiters: Array<() => void> = [];
  #count = 0;
  #closed = false;

  constructor(
    readonly url: URL,
    readonly options: TransportOptions,
    readonly max: number,
    /** Called when the pool holds no connection and nobody waits for one (the transport forgets it). */
    readonly onEmpty: () => void,
  ) {}

  /** A connection for one exchange; `reused` when it served an earlier one. */
  async acquire(signal: AbortSignal | undefined): Promise<{ conn: Connection; reused: boolean }> {
    let woken = false;
    for (;;) {
      if (signal?.aborted) {
        // A wake-up this caller cannot use goes to the next waiter.
        if (woken) this.#wakeOne();
        throw signal.reason;
      }
      for (let c = this.#idle.pop(); c; c = this.#idle.pop()) {
        if (c.dead) continue;
        c.socket.setTimeout(0);
        c.socket.ref();
        return { conn: c, reused: true };
      }
      if (this.#count < this.max) {
        this.#count++;
        const conn = new Connection(this.url, this.options);
        conn.socket.once('close', () => this.#forget(conn));
        try {
          await conn.ready(this.options.timeouts?.connectMs ?? 30_000, signal);
        } catch (err) {
          conn.destroy();
          throw err;
        }
        return { conn, reused: false };
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.#waiters.indexOf(wake);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiters.push(wake);
      });
      woken = true;
    }
  }

  /** Gives a connection back after an exchange: kept when `reusable`, else closed. */
  release(conn: Connection, reusable: boolean): void {
    conn.exchange = undefined;
    if (!reusable || conn.dead || this.#closed) {
      conn.destroy();
      return;
    }
    // Idle connections always read, so a server closing one is noticed at once.
    conn.socket.resume();
    this.#idle.push(conn);
    conn.socket.unref();
    conn.onTimeout = () => conn.destroy();
    conn.socket.setTimeout(KEEP_ALIVE_MS);
    this.#wakeOne();
  }

  /**
   * Closes the idle connections: after one of them turned out closed by the server, the others (idle as long or
   * longer) most likely are too.
   */
  dropIdle(): void {
    for (const c of this.#idle.splice(0)) c.destroy();
  }

  #wakeOne(): void {
    this.#waiters.shift()?.();
  }

  #forget(conn: Connection): void {
    this.#count--;
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    this.#wakeOne();
    if (this.#count === 0 && this.#waiters.length === 0) this.onEmpty();
  }

  /** Closes the idle connections now, the busy ones when their exchange ends. */
  close(): void {
    this.#closed = true;
    this.dropIdle();
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');

/** Splits the bytes read so far at the end of the head (`\r\n\r\n`); undefined while it has not arrived. */
function splitHead(head: Buffer): { head: string; rest: Uint8Array } | undefined {
  const i = head.indexOf(CRLF2);
  if (i > HEAD_LIMIT || (i < 0 && head.byteLength > HEAD_LIMIT)) {
    throw protocolError(`head longer than ${HEAD_LIMIT} bytes`);
  }
  if (i < 0) return undefined;
  return {
    head: head.toString('latin1', 0, i),
    rest: new Uint8Array(head.buffer, head.byteOffset + i + 4, head.byteLength - i - 4),
  };
}

interface ParsedHead {
  readonly status: number;
  readonly minor: number;
  readonly headers: Map<string, string>;
}

function parseHead(text: string): ParsedHead {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!m) throw protocolError(`status line ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || line[0] === ' ' || line[0] === '\t') {
      throw protocolError(`header line ${JSON.stringify(line.slice(0, 80))}`);
    }
    const name = line.slice(0, colon).toLowerCase();
    if (!TOKEN.test(name)) throw protocolError(`header name ${JSON.stringify(name.slice(0, 80))}`);
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { status: Number(m[2]), minor: Number(m[1]), headers };
}

function framingOf(method: string, head: ParsedHead): { framing: Framing; keepAlive: boolean } {
  const conn = (head.headers.get('connection') ?? '').toLowerCase();
  const keepAlive = head.minor === 1 ? !/\bclose\b/.test(conn) : /\bkeep-alive\b/.test(conn);
  const { status } = head;
  if (method === 'HEAD' || status === 204 || status === 304) return { framing: { kind: 'none' }, keepAlive };
  const te = head.headers.get('transfer-encoding');
  if (te !== undefined) {
    const codings = te.toLowerCase().split(',');
    if (codings[codings.length - 1]!.trim() === 'chunked') {
      // Transfer-Encoding wins over a Content-Length (RFC 9112 §6.3), but such a message may be a smuggling attempt.
      return { framing: { kind: 'chunked' }, keepAlive: keepAlive && !head.headers.has('content-length') };
    }
    return { framing: { kind: 'close' }, keepAlive: false };
  }
  const cl = head.headers.get('content-length');
  if (cl !== undefined) {
    const values = cl.split(',').map((v) => v.trim());
    if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) throw protocolError(`Content-Length ${cl}`);
    return { framing: { kind: 'length', remaining: Number(values[0]) }, keepAlive };
  }
  return { framing: { kind: 'close' }, keepAlive: false };
}

/** Decodes `Transfer-Encoding: chunked`, handing each piece of data on as a view of the input. */
class ChunkedDecoder {
  #state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size';
  #line = '';
  #left = 0;

  /** Feeds bytes; returns what followed the message's end (bytes of no response), if it ended. */
  feed(buf: Uint8Array, out: (data: Uint8Array) => void): Uint8Array | undefined {
    let i = 0;
    while (i < buf.byteLength) {
      switch (this.#state) {
        case 'data': {
          const n = Math.min(this.#left, buf.byteLength - i);
          out(buf.subarray(i, i + n));
          i += n;
          this.#left -= n;
          if (this.#left === 0) this.#state = 'data-crlf';
          break;
        }
        case 'size':
        case 'data-crlf':
        case 'trailer': {
          const nl = buf.indexOf(0x0a, i);
          const end = nl < 0 ? buf.byteLength : nl;
          this.#line += Buffer.from(buf.buffer, buf.byteOffset + i, end - i).toString('latin1');
          if (this.#line.length > 4096) throw protocolError('chunk line too long');
          i = end;
          if (nl < 0) break;
          i++;
          const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
          this.#line = '';
          if (this.#state === 'data-crlf') {
            if (line !== '') throw protocolError('chunk data longer than its size');
            this.#state = 'size';
          } else if (this.#state === 'size') {
            const m = /^([0-9a-fA-F]{1,12})(?:\s*;.*)?$/.exec(line);
            if (!m) throw protocolError(`chunk size ${JSON.stringify(line.slice(0, 40))}`);
            this.#left = Number.parseInt(m[1]!, 16);
            this.#state = this.#left === 0 ? 'trailer' : 'data';
          } else if (line === '') {
            this.#state = 'done';
            return buf.subarray(i);
          }
          break;
        }
        case 'done':
          return buf.subarray(i);
      }
    }
    return this.#state === 'done' ? buf.subarray(i) : undefined;
  }
}

/** Failures of a request sent on a kept-alive connection that turned out closed (see `closedUnderUs`). */
const staleFailures = new WeakSet<object>();

/** The server closed or reset the connection (not a timeout, not an abort, not a bad response). */
function closedUnderUs(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return code === 'LADE_HTTP_CLOSED' || code === 'ECONNRESET' || code === 'EPIPE';
}

const bodyMethods = new Set(['POST', 'PUT', 'PATCH']);

/** The request line and headers of a body-less request; throws on a header that would split the request. */
function requestHead(method: string, url: URL, headers: Readonly<Record<string, string>>): string {
  if (!TOKEN.test(method)) throw new TypeError(`invalid HTTP method ${JSON.stringify(method)}`);
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  if (!('host' in headers)) head += `host: ${url.host}\r\n`;
  for (const name in headers) {
    const value = headers[name]!;
    if (!TOKEN.test(name) || /[\r\n\0]/.test(value)) throw new TypeError(`invalid HTTP header ${JSON.stringify(name)}`);
    head += `${name}: ${value}\r\n`;
  }
  if (bodyMethods.has(method) && !('content-length' in headers)) head += 'content-length: 0\r\n';
  return `${head}\r\n`;
}

/**
 * Sends one request (without a body) on `pool` and resolves with its response once the head arrived. The body is a
 * stream of the socket's bytes; the connection goes back to the pool when the body ends (or is cancelled close to its
 * end), and is closed when it is cancelled earlier, fails, or when the server asked for that.
 */
function exchange(
  pool: OriginPool,
  conn: Connection,
  req: HttpRequest,
  requestHead: string,
  options: TransportOptions,
  reused: boolean,
): Promise<HttpResponse> {
  const method = req.method.toUpperCase();
  const signal = req.signal;
  const socket = conn.socket;
  const bodyIdleMs = options.timeouts?.bodyIdleMs ?? 120_000;
  return new Promise<HttpResponse>((resolve, reject) => {
    let headBuf: Buffer | undefined;
    let phase: 'head' | 'body' | 'done' = 'head';
    let received = false;
    let framing: Framing = { kind: 'none' };
    let keepAlive = false;
    let copy = true;
    let chunked: ChunkedDecoder | undefined;
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    let paused = false;
    let draining = false;

    const headTimer = setTimeout(() => {
      fail(
        new HttpTransportError(
          'LADE_HTTP_HEADERS_TIMEOUT',
          `no response headers within ${options.timeouts?.headersMs ?? 60_000} ms (timeout)`,
        ),
      );
    }, options.timeouts?.headersMs ?? 60_000);

    const onAbort = () => fail(signal?.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });

    const cleanup = () => {
      clearTimeout(headTimer);
      signal?.removeEventListener('abort', onAbort);
      socket.setTimeout(0);
    };

    const fail = (err: Error) => {
      if (phase === 'done') return;
      const wasHead = phase === 'head';
      phase = 'done';
      cleanup();
      conn.exchange = undefined;
      pool.release(conn, false);
      if (wasHead) {
        // A reused connection that the server had closed meanwhile: the caller retries on a fresh one.
        if (reused && !received && closedUnderUs(err)) staleFailures.add(err as object);
        reject(err);
      } else {
        dropPending();
        if (!draining) controller?.error(err);
      }
    };

    const finish = (rest: Uint8Array | undefined) => {
      if (phase === 'done') return;
      phase = 'done';
      cleanup();
      flush();
      if (!draining) controller?.close();
      paused = false; // release() resumes the socket of a connection it keeps
      const clean = keepAlive && (rest === undefined || rest.byteLength === 0);
      pool.release(conn, clean);
    };

    // Reads are gathered into bigger chunks: contiguous bytes of one slab go out as one view once they reach
    // COALESCE bytes or when this turn of the event loop's I/O is over, whichever comes first. Every chunk costs each
    // stream stage after this one a few promises, and the reads are mostly 32-64 KiB.
    // `pending` holds one count on its slab (handOver when it starts), so the slab cannot be used again before the
    // bytes are copied out or the view is handed on: a slab is sealed, and may go back to its pool, as soon as the
    // socket reads into the next one.
    let pending: Uint8Array | undefined;
    let flushQueued = false;
    const dropPending = () => {
      if (pending) releaseChunk(pending);
      pending = undefined;
    };
    const flush = () => {
      flushQueued = false;
      const data = pending;
      pending = undefined;
      if (!data) return;
      if (draining || !controller) {
        releaseChunk(data);
        return;
      }
      if (copy) {
        // A new Uint8Array of exactly the chunk (never Buffer#slice, which would be a view).
        const bytes = new Uint8Array(data);
        releaseChunk(data);
        controller.enqueue(bytes);
      } else {
        // The view goes on with its count: the stream is marked, its reader owns the chunk.
        controller.enqueue(data);
      }
      if (!paused && phase === 'body' && (controller.desiredSize ?? 1) <= 0) {
        paused = true;
        socket.setTimeout(0);
        socket.pause();
      }
    };
    const emit = (data: Uint8Array) => {
      if (draining || data.byteLength === 0) return;
      if (pending && pending.buffer === data.buffer && pending.byteOffset + pending.byteLength === data.byteOffset) {
        pending = new Uint8Array(pending.buffer, pending.byteOffset, pending.byteLength + data.byteLength);
      } else {
        if (pending) flush();
        pending = handOver(data);
      }
      if (pending.byteLength >= COALESCE) flush();
      else if (!flushQueued) {
        flushQueued = true;
        setImmediate(flush);
      }
    };

    const body = (buf: Uint8Array) => {
      switch (framing.kind) {
        case 'length': {
          const n = Math.min(framing.remaining, buf.byteLength);
          framing.remaining -= n;
          emit(buf.subarray(0, n));
          if (framing.remaining === 0) finish(buf.subarray(n));
          return;
        }
        case 'chunked': {
          const rest = chunked!.feed(buf, emit);
          if (rest !== undefined) finish(rest);
          return;
        }
        case 'close':
          emit(buf);
          return;
        default:
          finish(buf);
      }
    };

    const onHead = (text: string, rest: Uint8Array) => {
      const head = parseHead(text);
      if (head.status >= 100 && head.status < 200) {
        // An interim response (100 Continue, 103 Early Hints): the real one follows.
        headBuf = undefined;
        if (rest.byteLength > 0) conn.exchange?.data(rest);
        return;
      }
      ({ framing, keepAlive } = framingOf(method, head));
      clearTimeout(headTimer);
      phase = 'body';
      const nullBody = framing.kind === 'none';
      copy = !(framing.kind === 'length' && framing.remaining >= VIEW_MIN);
      if (framing.kind === 'chunked') chunked = new ChunkedDecoder();
      const stream = nullBody
        ? null
        : new ReadableStream<Uint8Array>(
            {
              start(c) {
                controller = c;
              },
              pull() {
                if (paused) {
                  paused = false;
                  socket.setTimeout(bodyIdleMs);
                  socket.resume();
                }
              },
              cancel() {
                dropPending();
                if (phase === 'done') return;
                if (keepAlive && framing.kind === 'length' && framing.remaining <= DRAIN_MAX) {
                  // Nearly read: take the rest and keep the connection.
                  draining = true;
                  if (paused) {
                    paused = false;
                    socket.setTimeout(bodyIdleMs);
                    socket.resume();
                  }
                  return;
                }
                phase = 'done';
                cleanup();
                pool.release(conn, false);
              },
            },
            { highWaterMark: BODY_HWM, size: (chunk) => chunk.byteLength },
          );
      if (stream && !copy) markOwnedChunks(stream);
      if (!nullBody) socket.setTimeout(bodyIdleMs);
      resolve({ status: head.status, headers: new ResponseHeaders(head.headers), body: stream });
      body(rest);
    };

    const onIdle = () =>
      fail(new HttpTransportError('LADE_HTTP_BODY_TIMEOUT', `no response data for ${bodyIdleMs} ms (timeout)`));

    conn.onTimeout = onIdle;
    conn.exchange = {
      data(chunk) {
        received = true;
        try {
          if (phase === 'body') {
            body(chunk);
            return;
          }
          if (phase !== 'head') return;
          const joined = headBuf
            ? Buffer.concat([headBuf, chunk])
            : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          const split = splitHead(joined);
          if (!split) {
            // Kept across reads: a copy, since the slab under `chunk` may be used again before the rest arrives.
            headBuf = headBuf ? joined : Buffer.from(joined);
            return;
          }
          headBuf = undefined;
          onHead(split.head, split.rest);
        } catch (err) {
          fail(err as Error);
        }
      },
      end(err) {
        if (!err && phase === 'body' && framing.kind === 'close') {
          keepAlive = false;
          finish(undefined);
          return;
        }
        fail(err ?? closedEarly());
      },
    };

    if (signal?.aborted) {
      // Nothing was sent: the connection stays good.
      phase = 'done';
      cleanup();
      pool.release(conn, true);
      reject(signal.reason);
      return;
    }
    socket.write(requestHead, 'latin1');
  });
}

/**
 * The Node transport for requests without a body (see the module comment); `send` rejects a request with a body.
 */
export function createNodeTransport(options: TransportOptions = {}): HttpTransport {
  const pools = new Map<string, OriginPool>();
  let closed = false;
  const max = options.connections ?? 8;
  return {
    async send(req) {
      if (closed) throw new HttpTransportError('LADE_HTTP_CLOSED', 'the transport was closed');
      if (req.body !== undefined) throw new TypeError('createNodeTransport sends requests without a body only');
      const url = new URL(req.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new TypeError(`unsupported URL scheme ${url.protocol} in ${req.url}`);
      }
      const method = req.method.toUpperCase();
      const head = requestHead(method, url, req.headers);
      let pool = pools.get(url.origin);
      if (!pool) {
        const created: OriginPool = new OriginPool(url, options, max, () => {
          if (pools.get(url.origin) === created) pools.delete(url.origin);
        });
        pool = created;
        pools.set(url.origin, pool);
      }
      const { conn, reused } = await pool.acquire(req.signal);
      try {
        return await exchange(pool, conn, req, head, options, reused);
      } catch (err) {
        if (!staleFailures.has(err as object) || (method !== 'GET' && method !== 'HEAD')) throw err;
        pool.dropIdle();
        const again = await pool.acquire(req.signal);
        return exchange(pool, again.conn, req, head, options, again.reused);
      }
    },
    async close() {
      closed = true;
      for (const p of pools.values()) p.close();
      pools.clear();
    },
  };
}
