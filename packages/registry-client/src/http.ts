import { type ConnectionFailure, RegistryConnectionError, type RegistryErrorContext } from './errors.js';
import { createNodeTransport } from './node-transport.js';

/** One HTTP exchange as the client sends it; redirects are never followed by the transport (the client does it). */
export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | ReadableStream<Uint8Array>;
  readonly signal?: AbortSignal;
}

/** Response headers (a web `Headers` is one). */
export interface HttpHeaders {
  get(name: string): string | null;
}

/**
 * The part of a web `Response` the client reads: a `Response` satisfies it. On Node the transport builds these
 * directly, which keeps Node's bundled fetch implementation from loading at all.
 */
export interface HttpResponse {
  readonly status: number;
  readonly headers: HttpHeaders;
  readonly body: ReadableStream<Uint8Array> | null;
}

/** Sends requests over pooled keep-alive connections. */
export interface HttpTransport {
  send(request: HttpRequest): Promise<HttpResponse>;
  close(): Promise<void>;
}

class NodeHeaders implements HttpHeaders {
  readonly #raw: Record<string, string | string[] | undefined>;
  constructor(raw: Record<string, string | string[] | undefined>) {
    this.#raw = raw;
  }
  get(name: string): string | null {
    const v = this.#raw[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(', ') : String(v);
  }
}

/** Timeouts of one registry's connections, in milliseconds. */
export interface TimeoutOptions {
  /** Establishing a TCP/TLS connection (default 30 s). */
  readonly connectMs?: number;
  /** Waiting for response headers (default 60 s). */
  readonly headersMs?: number;
  /** Idle time between two chunks of a response body (default 120 s). */
  readonly bodyIdleMs?: number;
}

/** How the transport connects. */
export interface TransportOptions {
  readonly timeouts?: TimeoutOptions;
  /** Accept any TLS certificate (hosts marked insecure). */
  readonly insecureTls?: boolean;
  /** Connections per origin (default 8). */
  readonly connections?: number;
}

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
const isNode = !isDeno && typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * The default transport. On Node, requests without a body go through lade's own HTTP/1.1 reader
 * ({@link createNodeTransport}: a blob arrives as views of the socket's read buffers) and uploads with a body through
 * undici; elsewhere (Deno, Bun, workers) everything goes through the global `fetch`.
 */
export function createTransport(options: TransportOptions = {}): HttpTransport {
  if (!isNode) return createFetchTransport(options);
  const reader = createNodeTransport(options);
  let uploads: HttpTransport | undefined;
  return {
    send(req) {
      if (req.body === undefined) return reader.send(req);
      uploads ??= undiciTransport(options);
      return uploads.send(req);
    },
    async close() {
      await Promise.all([reader.close(), uploads?.close()]);
    },
  };
}

// Node: undici's dispatcher API (no body copies, no fetch-spec port blocklist), wrapped into web Responses.
function undiciTransport(options: TransportOptions): HttpTransport {
  const t = options.timeouts ?? {};
  type Loaded = {
    agent: import('undici').Agent;
    fromWeb: (s: ReadableStream<Uint8Array>) => import('node:stream').Readable;
  };
  let loaded: Promise<Loaded> | undefined;
  const load = () => {
    loaded ??= Promise.all([import('undici'), import('node:stream')]).then(([u, stream]) => ({
      agent: new u.Agent({
        connections: options.connections ?? 8,
        keepAliveTimeout: 30_000,
        headersTimeout: t.headersMs ?? 60_000,
        bodyTimeout: t.bodyIdleMs ?? 120_000,
        connect: { timeout: t.connectMs ?? 30_000, ...(options.insecureTls ? { rejectUnauthorized: false } : {}) },
      }),
      fromWeb: (s) => stream.Readable.fromWeb(s as never),
    }));
    return loaded;
  };
  return {
    async send(req) {
      const { agent, fromWeb } = await load();
      const url = new URL(req.url);
      const body = req.body === undefined ? null : req.body instanceof Uint8Array ? req.body : fromWeb(req.body);
      // One listener on the caller's signal per request in flight, removed when the exchange ends.
      const ac = new AbortController();
      const outer = req.signal;
      const onAbort = () => ac.abort(outer?.reason);
      if (outer?.aborted) throw outer.reason;
      outer?.addEventListener('abort', onAbort, { once: true });
      const done = () => outer?.removeEventListener('abort', onAbort);
      let res: import('undici').Dispatcher.ResponseData;
      try {
        res = await agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method as 'GET',
          headers: req.headers as Record<string, string>,
          body,
          signal: ac.signal,
        });
      } catch (e) {
        done();
        throw e;
      }
      const nullBody =
        res.statusCode === 204 || res.statusCode === 205 || res.statusCode === 304 || req.method === 'HEAD';
      if (nullBody) {
        res.body.resume();
        done();
      }
      return {
        status: res.statusCode,
        headers: new NodeHeaders(res.headers),
        body: nullBody ? null : nodeToWeb(res.body, done),
      };
    },
    async close() {
      if (loaded) await (await loaded).agent.close();
    },
  };
}

// Node 20's Readable.toWeb throws on data arriving after a cancel; this adapter pauses the socket on backpressure
// (256 KiB queued) and destroys it on cancel.
function nodeToWeb(r: import('node:stream').Readable, onFinish: () => void): ReadableStream<Uint8Array> {
  let finished = false;
  r.once('close', onFinish);
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        r.on('data', (chunk: Uint8Array) => {
          if (finished) return;
          c.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((c.desiredSize ?? 0) <= 0) r.pause();
        });
        r.on('end', () => {
          if (finished) return;
          finished = true;
          c.close();
        });
        r.on('error', (e) => {
          if (finished) return;
          finished = true;
          c.error(e);
        });
      },
      pull() {
        r.resume();
      },
      cancel() {
        finished = true;
        r.destroy();
      },
    },
    { highWaterMark: 256 * 1024, size: (chunk) => chunk.byteLength },
  );
}

/**
 * A transport on the global `fetch` (Deno, Bun, workers). Connection pooling is the runtime's; `insecureTls` is not
 * honoured there (configure the runtime to trust the certificate instead).
 */
export function createFetchTransport(options: TransportOptions = {}): HttpTransport {
  const headersMs = options.timeouts?.headersMs ?? 60_000;
  return {
    async send(req) {
      const timeout = AbortSignal.timeout(headersMs);
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      const init: RequestInit & { duplex?: 'half' } = {
        method: req.method,
        headers: req.headers as Record<string, string>,
        redirect: 'manual',
        signal,
        ...(req.body !== undefined ? { body: req.body as BodyInit, duplex: 'half' as const } : {}),
      };
      return fetch(req.url, init);
    },
    async close() {},
  };
}

/** Walks an error's cause chain for a system error code (`ECONNREFUSED`, `UND_ERR_CONNECT_TIMEOUT`, …). */
function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') codes.push(c);
    const m = (e as { message?: unknown }).message;
    if (typeof m === 'string') codes.push(m);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** Classifies a network-level failure. */
export function connectionFailure(err: unknown): ConnectionFailure {
  // A malformed response: its message quotes the server's bytes, which must not read as a TLS or reset failure.
  if ((err as { code?: unknown } | null)?.code === 'LADE_HTTP_PROTOCOL') return 'other';
  const all = errorCodes(err).join(' ');
  if (/ECONNREFUSED|connection refused/i.test(all)) return 'refused';
  if (/ENOTFOUND|EAI_AGAIN|dns error|failed to lookup/i.test(all)) return 'dns';
  if (/TIMEOUT|ETIMEDOUT|timed out/i.test(all)) return 'timeout';
  if (/SSL|TLS|EPROTO|CERT|certificate|wrong version number/i.test(all)) return 'tls';
  if (/ECONNRESET|EPIPE|UND_ERR_SOCKET|other side closed|terminated|socket hang up|connection reset|closed/i.test(all))
    return 'reset';
  return 'other';
}

const goMethod = (m: string): string => m.charAt(0) + m.slice(1).toLowerCase();

/** A connection error worded as docker does: `Get "URL": dial tcp HOST: connect: connection refused`. */
export function connectionError(
  err: unknown,
  method: string,
  url: string,
  context: RegistryErrorContext,
): RegistryConnectionError {
  const failure = connectionFailure(err);
  const u = new URL(url);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const addr = `${u.hostname}:${port}`;
  const detail = errorCodes(err).find((c) => !/^fetch failed$/i.test(c)) ?? 'network error';
  const reason: Record<ConnectionFailure, string> = {
    refused: `dial tcp ${addr}: connect: connection refused`,
    dns: `dial tcp: lookup ${u.hostname}: no such host`,
    timeout: `dial tcp ${addr}: i/o timeout`,
    tls: `tls: ${detail}`,
    reset: `read tcp ${addr}: connection reset by peer (${detail})`,
    other: detail,
  };
  return new RegistryConnectionError(`${goMethod(method)} "${url}": ${reason[failure]}`, failure, {
    cause: err,
    host: context.host ?? u.host,
    ...(context.repository !== undefined ? { repository: context.repository } : {}),
    ...(context.reference !== undefined ? { reference: context.reference } : {}),
    method,
    url,
  });
}

/** Reads a response body as text, at most `limit` bytes (the rest is discarded). */
export async function readText(res: HttpResponse, limit = 64 * 1024): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n < limit) {
        parts.push(value.subarray(0, limit - n));
        n += Math.min(value.byteLength, limit - n);
      }
    }
  } catch {
    // a body cut short still tells us what it said so far
  }
  return new TextDecoder().decode(concat(parts, n));
}

/** Discards a response body so its connection returns to the pool. */
export async function discard(res: HttpResponse): Promise<void> {
  if (!res.body) return;
  try {
    await res.body.cancel();
  } catch {
    // already closed
  }
}

/** Concatenates chunks into one array of `total` bytes. */
export function concat(parts: readonly Uint8Array[], total?: number): Uint8Array {
  const size = total ?? parts.reduce((a, p) => a + p.byteLength, 0);
  if (parts.length === 1 && parts[0]!.byteLength === size) return parts[0]!;
  const out = new Uint8Array(size);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** Parses the `Link: <url>; rel="next"` header of a paginated list into the next URL, resolved against `base`. */
export function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>(.*)/.exec(part.trim());
    if (m && /rel\s*=\s*"?next"?/i.test(m[2]!)) return new URL(m[1]!, base).toString();
  }
  return undefined;
}
