// lade's HTTP/1.1 reader (createNodeTransport) against node:http servers and raw sockets that answer what a real
// server would not: interim responses, odd framings, connections that die or stall, malformed heads.
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { ownsChunks, releaseChunk } from '@lade/manifest';
import { selfSignedCertificate } from '@lade/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionFailure, type HttpResponse, type HttpTransport } from '../src/http.js';
import { createNodeTransport } from '../src/index.js';
import { type LocalServer, listenLocal } from './local-server.js';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function listen(server: Server | NetServer, scheme = 'http'): Promise<LocalServer> {
  const served = await listenLocal(server, scheme);
  closers.push(() => served.close());
  return served;
}

function http(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<LocalServer> {
  const server = createHttpServer(handler);
  server.keepAliveTimeout = 10_000;
  return listen(server);
}

/** A server writing `reply(requestHead, socket)` by hand, once per request head it reads. */
function raw(reply: (head: string, socket: Socket, index: number) => void): Promise<LocalServer> {
  let index = 0;
  const server = createNetServer((socket) => {
    let pending = '';
    socket.on('data', (d) => {
      pending += d.toString('latin1');
      for (let i = pending.indexOf('\r\n\r\n'); i >= 0; i = pending.indexOf('\r\n\r\n')) {
        const head = pending.slice(0, i);
        pending = pending.slice(i + 4);
        reply(head, socket, index++);
      }
    });
    socket.on('error', () => {});
  });
  return listen(server);
}

function transport(options: Parameters<typeof createNodeTransport>[0] = {}): HttpTransport {
  const t = createNodeTransport(options);
  closers.push(() => t.close());
  return t;
}

async function readAll(res: HttpResponse): Promise<{ bytes: Buffer; chunks: Uint8Array[] }> {
  const chunks: Uint8Array[] = [];
  if (res.body) for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
  return { bytes: Buffer.concat(chunks), chunks };
}

const get = (t: HttpTransport, url: string, headers: Record<string, string> = {}, signal?: AbortSignal) =>
  t.send({ method: 'GET', url, headers, ...(signal ? { signal } : {}) });

function pattern(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE(i >>> 0, i);
  return b;
}

describe('createNodeTransport', () => {
  it('streams a big Content-Length body exactly, as views of its read slabs, and a small one as copies', async () => {
    const big = pattern(24 * 1024 * 1024);
    const small = Buffer.from('{"schemaVersion":2}');
    const s = await http((req, res) => {
      const body = req.url === '/big' ? big : small;
      res.writeHead(200, { 'content-length': body.byteLength, 'x-multi': 'a' });
      res.end(body);
    });
    const t = transport();
    const res = await get(t, `${s.url}/big`);
    expect(res.status).toBe(200);
    expect(res.headers.get('Content-Length')).toBe(String(big.byteLength));
    expect(ownsChunks(res.body!)).toBe(true); // views of slabs, handed over with ownership
    const { bytes, chunks } = await readAll(res);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
    // Views: more than one chunk shares a slab.
    expect(new Set(chunks.map((c) => c.buffer)).size).toBeLessThan(chunks.length);
    const r2 = await get(t, `${s.url}/small`);
    expect(ownsChunks(r2.body!)).toBe(false); // copies
    const got = await readAll(r2);
    expect(got.bytes.toString()).toBe(small.toString());
    for (const c of got.chunks) expect(c.buffer.byteLength).toBe(c.byteLength);
    expect(s.connections()).toBe(1); // keep-alive: the second request reused the first connection
  });

  it('never hands on bytes of a slab that went back to the pool: many big bodies at once, read by a releasing reader', async () => {
    const size = 6 * 1024 * 1024 + 332;
    const bodies = Array.from({ length: 6 }, (_, k) => {
      const b = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i += 4) b.writeUInt32LE((i * (k + 3)) >>> 0, i);
      return b;
    });
    const s = await http((req, res) => {
      const body = bodies[Number(req.url!.slice(1))]!;
      res.writeHead(200, { 'content-length': body.byteLength });
      // Uneven writes with pauses: reads of every size, slabs switched mid-body.
      let off = 0;
      const next = () => {
        if (off >= body.byteLength) return void res.end();
        const n = 1000 + Math.floor(Math.random() * 300_000);
        res.write(body.subarray(off, off + n));
        off += n;
        if (Math.random() < 0.2) setTimeout(next, 1);
        else setImmediate(next);
      };
      next();
    });
    const t = transport();
    const expected = bodies.map((b) => createHash('sha256').update(b).digest('hex'));
    // Several rounds: which slab goes back to the pool when depends on timing.
    for (let round = 0; round < 4; round++) {
      const digests = await Promise.all(
        bodies.map(async (_, k) => {
          const res = await get(t, `${s.url}/${k}`);
          expect(ownsChunks(res.body!)).toBe(true);
          const h = createHash('sha256');
          for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
            h.update(c);
            releaseChunk(c); // as the store does once a chunk is written
            if (Math.random() < 0.1) await new Promise((ok) => setTimeout(ok, 1));
          }
          return h.digest('hex');
        }),
      );
      expect(digests).toEqual(expected);
    }
  });

  it('decodes chunked bodies with extensions and trailers, and keeps the connection', async () => {
    const s = await raw((_head, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      socket.write('5;ext=1\r\nhello\r\n');
      setTimeout(() => socket.write('1\r\n \r\n6\r\nworld!\r\n0\r\nx-trailer: yes\r\n\r\n'), 10);
    });
    const t = transport();
    for (let i = 0; i < 2; i++) {
      const res = await get(t, `${s.url}/c`);
      expect((await readAll(res)).bytes.toString()).toBe('hello world!');
    }
    expect(s.connections()).toBe(1);
  });

  it('reads a body delimited by the connection closing (HTTP/1.0) and never reuses that connection', async () => {
    const s = await raw((_head, socket) => {
      socket.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
    });
    const t = transport();
    expect((await readAll(await get(t, `${s.url}/a`))).bytes.toString()).toBe('until the end');
    expect((await readAll(await get(t, `${s.url}/b`))).bytes.toString()).toBe('until the end');
    expect(s.connections()).toBe(2);
  });

  it('has no body for HEAD, 204 and 304, and skips interim 1xx responses', async () => {
    const s = await raw((head, socket) => {
      const path = head.split(' ')[1];
      if (head.startsWith('HEAD')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n');
      else if (path === '/204') socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      else if (path === '/304') socket.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n');
      else
        socket.write(
          'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
        );
    });
    const t = transport();
    const head = await t.send({ method: 'HEAD', url: `${s.url}/x`, headers: {} });
    expect([head.status, head.body, head.headers.get('content-length')]).toEqual([200, null, '1234']);
    expect((await get(t, `${s.url}/204`)).body).toBeNull();
    expect((await get(t, `${s.url}/304`)).body).toBeNull();
    const ok = await get(t, `${s.url}/interim`);
    expect(ok.status).toBe(200);
    expect((await readAll(ok)).bytes.toString()).toBe('ok');
    expect(s.connections()).toBe(1);
  });

  it('sends the host, the caller headers and a zero Content-Length on a body-less POST', async () => {
    const heads: string[] = [];
    const s = await raw((head, socket) => {
      heads.push(head);
      socket.write('HTTP/1.1 202 Accepted\r\nLocation: /upload/1\r\nContent-Length: 0\r\n\r\n');
    });
    const t = transport();
    const res = await t.send({
      method: 'POST',
      url: `${s.url}/v2/a/blobs/uploads/?x=1`,
      headers: { 'user-agent': 'lade' },
    });
    expect([res.status, res.headers.get('location')]).toEqual([202, '/upload/1']);
    expect((await readAll(res)).bytes.byteLength).toBe(0);
    const lines = heads[0]!.split('\r\n');
    expect(lines[0]).toBe('POST /v2/a/blobs/uploads/?x=1 HTTP/1.1');
    expect(lines).toContain(`host: ${new URL(s.url).host}`);
    expect(lines).toContain('user-agent: lade');
    expect(lines).toContain('content-length: 0');
  });

  it('refuses header names and values that would split the request, and requests with a body', async () => {
    const s = await http((_req, res) => res.end('x'));
    const t = transport();
    await expect(get(t, `${s.url}/`, { 'x-evil': 'a\r\nx-injected: 1' })).rejects.toThrow(/invalid HTTP header/);
    await expect(get(t, `${s.url}/`, { 'bad name': 'a' })).rejects.toThrow(/invalid HTTP header/);
    await expect(t.send({ method: 'PUT', url: `${s.url}/`, headers: {}, body: new Uint8Array([1]) })).rejects.toThrow(
      /without a body/,
    );
    // The transport still works after the refusals.
    expect((await readAll(await get(t, `${s.url}/`))).bytes.toString()).toBe('x');
  });

  it('errors the body when the server closes mid-body, as a reset the client resumes from', async () => {
    const s = await raw((_head, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n');
      socket.end(Buffer.alloc(1000, 1));
    });
    const t = transport();
    const res = await get(t, `${s.url}/cut`);
    const err = await readAll(res).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('LADE_HTTP_CLOSED');
    expect(connectionFailure(err)).toBe('reset');
  });

  it('times out waiting for the head and when the body stalls', async () => {
    const s = await raw((head, socket) => {
      if (head.includes('/stall')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      // '/silent': never answers
    });
    const t = transport({ timeouts: { headersMs: 150, bodyIdleMs: 150 } });
    const silent = await get(t, `${s.url}/silent`).catch((e: unknown) => e);
    expect((silent as { code?: string }).code).toBe('LADE_HTTP_HEADERS_TIMEOUT');
    expect(connectionFailure(silent)).toBe('timeout');
    const res = await get(t, `${s.url}/stall`);
    const stalled = await readAll(res).catch((e: unknown) => e);
    expect((stalled as { code?: string }).code).toBe('LADE_HTTP_BODY_TIMEOUT');
    expect(connectionFailure(stalled)).toBe('timeout');
  });

  it('aborts a request waiting for its head and a body being read', async () => {
    const s = await raw((head, socket) => {
      if (head.includes('/body')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc');
    });
    const t = transport();
    const ac = new AbortController();
    const pending = get(t, `${s.url}/never`, {}, ac.signal);
    setTimeout(() => ac.abort(new Error('stop now')), 30);
    await expect(pending).rejects.toThrow('stop now');
    const ac2 = new AbortController();
    const res = await get(t, `${s.url}/body`, {}, ac2.signal);
    const reading = readAll(res);
    ac2.abort(new Error('stop the body'));
    await expect(reading).rejects.toThrow('stop the body');
    await expect(get(t, `${s.url}/x`, {}, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it('pauses the socket while the body is not read (memory stays bounded)', async () => {
    const total = 256 * 1024 * 1024;
    let sent = 0;
    const s = await http((_req, res) => {
      res.writeHead(200, { 'content-length': total });
      const chunk = Buffer.alloc(1024 * 1024);
      const pump = () => {
        while (sent < total) {
          sent += chunk.byteLength;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const t = transport();
    const res = await get(t, `${s.url}/big`);
    await new Promise((ok) => setTimeout(ok, 300));
    // What left the server: our queue (1 MiB) and read slab, the kernel's socket buffers, node:http's own buffer.
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    const { bytes } = await readAll(res);
    expect(bytes.byteLength).toBe(total);
  });

  it('closes a connection whose body is cancelled early, and drains one cancelled near its end', async () => {
    const s = await http((req, res) => {
      const size = req.url === '/big' ? 8 * 1024 * 1024 : 100_000;
      res.writeHead(200, { 'content-length': size });
      res.end(Buffer.alloc(size, 7));
    });
    const t = transport();
    const big = await get(t, `${s.url}/big`);
    await big.body!.cancel();
    await readAll(await get(t, `${s.url}/small`));
    expect(s.connections()).toBe(2); // the cancelled big body took its connection with it
    const small = await get(t, `${s.url}/small`);
    await small.body!.cancel();
    await new Promise((ok) => setTimeout(ok, 50)); // the rest is read in the background
    await readAll(await get(t, `${s.url}/small`));
    expect(s.connections()).toBe(2); // drained and reused
  });

  it('retries a GET on a fresh connection when the kept-alive one turns out closed', async () => {
    const s = await raw((_head, socket, index) => {
      if (index === 1) {
        socket.destroy(); // the second request meets a connection the server dropped
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const t = transport();
    expect((await readAll(await get(t, `${s.url}/1`))).bytes.toString()).toBe('ok');
    expect((await readAll(await get(t, `${s.url}/2`))).bytes.toString()).toBe('ok');
    expect(s.connections()).toBe(2);
  });

  it('hands back a connection whose socket was paused when its body ended, and reads the next response at once', async () => {
    const first = 900 * 1024;
    const total = first + 300 * 1024;
    const s = await raw((head, socket) => {
      if (head.includes('/big')) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
        socket.write(Buffer.alloc(first, 1));
        setTimeout(() => socket.write(Buffer.alloc(total - first, 2)), 100);
      } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const t = transport({ connections: 1, timeouts: { headersMs: 2000 } });
    const res = await get(t, `${s.url}/big`);
    await new Promise((ok) => setTimeout(ok, 300)); // a slow consumer: the whole body arrives (and pauses) meanwhile
    expect((await readAll(res)).bytes.byteLength).toBe(total);
    const started = performance.now();
    expect((await readAll(await get(t, `${s.url}/small`))).bytes.toString()).toBe('ok');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(s.connections()).toBe(1);
  });

  it('gives up draining a cancelled body when the server stalls (the idle timeout holds while draining)', async () => {
    const s = await raw((head, socket) => {
      if (head.includes('/stall')) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${1024 * 1024 + 200 * 1024}\r\n\r\n`);
        socket.write(Buffer.alloc(1024 * 1024 + 10 * 1024, 3)); // then nothing more
      } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const t = transport({ connections: 1, timeouts: { bodyIdleMs: 200 } });
    const res = await get(t, `${s.url}/stall`);
    await new Promise((ok) => setTimeout(ok, 150)); // unread: the socket pauses
    await res.body!.cancel(); // < 256 KiB left: drained in the background
    const next = await get(t, `${s.url}/next`); // gets the pool's one slot once the drain times out
    expect((await readAll(next)).bytes.toString()).toBe('ok');
    expect(s.connections()).toBe(2);
  });

  it('rejects with an abort reason that is not an Error, on a reused connection too', async () => {
    const s = await raw((head, socket) => {
      if (!head.includes('/never')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const t = transport();
    await readAll(await get(t, `${s.url}/warm`));
    const ac = new AbortController();
    const pending = get(t, `${s.url}/never`, {}, ac.signal);
    setTimeout(() => ac.abort('user cancelled'), 30);
    await expect(pending).rejects.toBe('user cancelled');
  });

  it('retries on a new connection without starving requests queued behind the retry', async () => {
    let dropped = false;
    const s = await raw((head, socket) => {
      if (head.includes('/drop') && !dropped) {
        dropped = true;
        socket.destroy(); // this kept-alive connection "went stale"
        return;
      }
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
    const t = transport({ connections: 1, timeouts: { headersMs: 3000 } });
    await (await get(t, `${s.url}/a`)).body!.cancel(); // drained: the connection goes back idle
    const started = performance.now();
    const [r2, r3] = await Promise.all([get(t, `${s.url}/drop`), get(t, `${s.url}/b`)]);
    expect((await readAll(r2)).bytes.toString()).toBe('ok');
    expect((await readAll(r3)).bytes.toString()).toBe('ok');
    // Not after an idle connection's keep-alive (30 s) ran out.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses malformed responses', async () => {
    const replies: Record<string, string> = {
      '/status': 'HTTP/2 200 OK\r\n\r\n',
      '/length': 'HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n',
      '/lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
      '/fold': 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n',
      '/huge': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`,
      '/space': 'HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc',
      '/tls-words': 'HTTP/1.1 200 OK\r\nX-Cert Issue: SSL\r\n\r\n',
    };
    const s = await raw((head, socket) => {
      socket.write(replies[head.split(' ')[1]!] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    });
    const t = transport();
    for (const path of Object.keys(replies)) {
      const err = await get(t, `${s.url}${path}`).catch((e: unknown) => e);
      expect((err as { code?: string }).code, path).toBe('LADE_HTTP_PROTOCOL');
      expect(connectionFailure(err), path).toBe('other');
    }
    const chunked = await raw((_h, socket) => {
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    });
    const res = await get(t, `${chunked.url}/`);
    await expect(readAll(res)).rejects.toThrow(/chunk size/);
  });

  it('opens at most `connections` connections per origin and queues the rest', async () => {
    let open = 0;
    let most = 0;
    const s = await http((_req, res) => {
      open++;
      most = Math.max(most, open);
      setTimeout(() => {
        open--;
        res.end('done');
      }, 40);
    });
    const t = transport({ connections: 2 });
    const all = await Promise.all(Array.from({ length: 6 }, (_, i) => get(t, `${s.url}/${i}`).then(readAll)));
    expect(all.map((r) => r.bytes.toString())).toEqual(Array(6).fill('done'));
    expect(most).toBe(2);
    expect(s.connections()).toBe(2);
  });

  it('speaks TLS, verifying the certificate unless told not to', async () => {
    const { keyPem, certPem } = selfSignedCertificate('127.0.0.1');
    const server = createHttpsServer({ key: keyPem, cert: certPem }, (_req, res) => res.end('secret'));
    const s = await listen(server, 'https');
    const insecure = transport({ insecureTls: true });
    expect((await readAll(await get(insecure, `${s.url}/`))).bytes.toString()).toBe('secret');
    const strict = transport();
    const err = await get(strict, `${s.url}/`).catch((e: unknown) => e);
    expect(connectionFailure(err)).toBe('tls');
  });

  it('reports a refused connection as refused', async () => {
    const s = await http((_req, res) => res.end());
    const url = s.url;
    await closers.pop()!();
    const err = await get(transport(), `${url}/`).catch((e: unknown) => e);
    expect(connectionFailure(err)).toBe('refused');
  });

  it('closes its idle connections on close()', async () => {
    let closed = 0;
    const server = createHttpServer((_req, res) => res.end('x'));
    server.on('connection', (sock: Socket) => sock.on('close', () => closed++));
    const s = await listen(server);
    const t = createNodeTransport();
    await readAll(await get(t, `${s.url}/`));
    await t.close();
    await new Promise((ok) => setTimeout(ok, 50));
    expect(closed).toBe(1);
    await expect(get(t, `${s.url}/`)).rejects.toThrow(/closed/);
  });
});
