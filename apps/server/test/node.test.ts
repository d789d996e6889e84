import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entryArgv, freePort, onDeno, runOk, tempDir } from '@lade/test-support';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  createRegistry,
  FilesystemDriver,
  layout,
  MemoryDriver,
  parseAddr,
  parseConfig,
  type RunningServer,
  serve,
  startServer,
} from '../src/index.js';
import { postToken, sha256 } from './helpers.js';

const serverArgv = () =>
  entryArgv(
    fileURLToPath(new URL('../src/main.ts', import.meta.url)),
    fileURLToPath(new URL('../dist/main.js', import.meta.url)),
  );

function rawRequest(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('Node adapter', () => {
  let server: RunningServer;
  let dir: { path: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    dir = await tempDir('lade-server-node-');
    server = await serve({ registry: createRegistry({ storage: new FilesystemDriver(dir.path) }), port: 0 });
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  it('streams a 64 MiB chunked upload and download without buffering it', async () => {
    const chunk = randomBytes(1024 * 1024);
    const total = 64;
    const h = createHash('sha256');
    for (let i = 0; i < total; i++) h.update(chunk);
    const digest = `sha256:${h.digest('hex')}`;
    const post = await fetch(`${server.url}/v2/big/blobs/uploads/`, { method: 'POST' });
    const location = new URL(post.headers.get('location')!, server.url);
    const id = location.pathname.split('/').pop()!;
    const onDisk = join(dir.path, layout.uploadData('big', id));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent >= total) return c.close();
        // Send MiB n only once MiB n-16 reached storage: a server that buffered the body would never get there.
        for (let i = 0; sent > 16 && i < 500; i++) {
          const size = (await stat(onDisk).catch(() => undefined))?.size ?? 0;
          if (size >= (sent - 16) * chunk.length) break;
          if (i === 499) throw new Error('the server is not writing the body while it arrives');
          await new Promise((r) => setTimeout(r, 10));
        }
        sent++;
        c.enqueue(chunk);
      },
    });
    const patch = await fetch(location, { method: 'PATCH', body, duplex: 'half' } as RequestInit);
    expect(patch.status).toBe(202);
    expect(patch.headers.get('range')).toBe(`0-${total * chunk.length - 1}`);
    location.searchParams.set('digest', digest);
    expect((await fetch(location, { method: 'PUT' })).status).toBe(201);
    const get = await fetch(`${server.url}/v2/big/blobs/${digest}`);
    expect(get.headers.get('content-length')).toBe(String(total * chunk.length));
    const back = createHash('sha256');
    for await (const c of get.body as unknown as AsyncIterable<Uint8Array>) back.update(c);
    expect(`sha256:${back.digest('hex')}`).toBe(digest);
  });

  it('keeps what arrived when a client aborts a PATCH, so the upload resumes from the reported offset', async () => {
    const content = randomBytes(8 * 1024 * 1024);
    const digest = sha256(content);
    const post = await fetch(`${server.url}/v2/aborted/blobs/uploads/`, { method: 'POST' });
    const location = new URL(post.headers.get('location')!, server.url);
    const abort = new AbortController();
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (sent >= content.length / 2) {
          await new Promise((r) => setTimeout(r, 200));
          abort.abort();
          return;
        }
        c.enqueue(content.subarray(sent, sent + 512 * 1024));
        sent += 512 * 1024;
      },
    });
    await expect(
      fetch(location, { method: 'PATCH', body, duplex: 'half', signal: abort.signal } as RequestInit),
    ).rejects.toThrow();
    // the server notices the abort asynchronously: wait until the reported offset is stable
    let have = -1;
    for (let i = 0; i < 100; i++) {
      const status = await fetch(location);
      expect(status.status).toBe(204);
      const now = Number(status.headers.get('range')!.split('-')[1]) + 1;
      if (now === have && now > 1) break;
      have = now;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(content.length / 2);
    expect((await fetch(`${server.url}/v2/aborted/blobs/${digest}`, { method: 'HEAD' })).status).toBe(404);
    const rest = new URL(location);
    rest.searchParams.set('digest', digest);
    const put = await fetch(rest, {
      method: 'PUT',
      body: content.subarray(have),
      headers: { 'Content-Range': `${have}-${content.length - 1}` },
    });
    expect(put.status).toBe(201);
    const back = Buffer.from(await (await fetch(`${server.url}/v2/aborted/blobs/${digest}`)).arrayBuffer());
    expect(back.equals(content)).toBe(true);
  });

  it('serves ranges and HEAD over HTTP', async () => {
    const content = randomBytes(100);
    const digest = sha256(content);
    const r = await fetch(`${server.url}/v2/r/blobs/uploads/?digest=${digest}`, { method: 'POST', body: content });
    expect(r.status).toBe(201);
    const part = await fetch(`${server.url}/v2/r/blobs/${digest}`, { headers: { Range: 'bytes=50-59' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(content.subarray(50, 60));
    const head = await fetch(`${server.url}/v2/r/blobs/${digest}`, { method: 'HEAD' });
    expect(head.headers.get('content-length')).toBe('100');
  });

  it('sends exact bytes of ranges that span its 1 MiB read chunks, and survives clients leaving mid-blob', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 123);
    const digest = sha256(content);
    const r = await fetch(`${server.url}/v2/chunks/blobs/uploads/?digest=${digest}`, { method: 'POST', body: content });
    expect(r.status).toBe(201);
    const whole = Buffer.from(await (await fetch(`${server.url}/v2/chunks/blobs/${digest}`)).arrayBuffer());
    expect(whole.equals(content)).toBe(true);
    for (const [from, to] of [
      [1024 * 1024 - 7, 2 * 1024 * 1024 + 9],
      [0, 1024 * 1024 - 1],
      [3 * 1024 * 1024, content.length - 1],
    ] as const) {
      const part = await fetch(`${server.url}/v2/chunks/blobs/${digest}`, {
        headers: { Range: `bytes=${from}-${to}` },
      });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes ${from}-${to}/${content.length}`);
      expect(Buffer.from(await part.arrayBuffer()).equals(content.subarray(from, to + 1))).toBe(true);
    }
    // clients that read a little and hang up: the server must go on serving
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: server.port, path: `/v2/chunks/blobs/${digest}` }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
        req.on('error', (err) => (req.destroyed ? resolve() : reject(err)));
        req.end();
      });
    }
    const again = Buffer.from(await (await fetch(`${server.url}/v2/chunks/blobs/${digest}`)).arrayBuffer());
    expect(again.equals(content)).toBe(true);
  });

  it('sends stored blobs natively without also opening them through the storage driver (no handle left to GC)', async () => {
    const d = await tempDir('lade-server-native-');
    let readers = 0;
    class CountingDriver extends FilesystemDriver {
      override async reader(path: string, offset?: number, end?: number) {
        readers++;
        return super.reader(path, offset, end);
      }
    }
    const s = await serve({ registry: createRegistry({ storage: new CountingDriver(d.path) }), port: 0 });
    try {
      const content = randomBytes(2 * 1024 * 1024);
      const digest = sha256(content);
      await fetch(`${s.url}/v2/native/blobs/uploads/?digest=${digest}`, { method: 'POST', body: content });
      readers = 0;
      for (let i = 0; i < 5; i++) {
        const back = Buffer.from(await (await fetch(`${s.url}/v2/native/blobs/${digest}`)).arrayBuffer());
        expect(back.equals(content)).toBe(true);
      }
      expect(readers).toBe(0);
    } finally {
      await s.close();
      await d.cleanup();
    }
  });

  it('refuses raw dot segments (literal or percent-encoded) with NAME_INVALID before routing', async () => {
    for (const path of [
      '/v2/a/%2e%2e/b/blobs/uploads/',
      '/v2/a/../b/tags/list',
      '/v2/a%2f..%2fb/tags/list',
      '/v2/./x/tags/list',
    ]) {
      const r = await rawRequest(server.port, path.includes('uploads') ? 'POST' : 'GET', path);
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body).errors[0].code).toBe('NAME_INVALID');
    }
  });

  it('lets an in-flight upload finish on graceful close and then refuses connections', async () => {
    const registry = createRegistry({ storage: new MemoryDriver() });
    const s = await serve({ registry, port: 0 });
    const post = await fetch(`${s.url}/v2/slow/blobs/uploads/`, { method: 'POST' });
    const location = new URL(post.headers.get('location')!, s.url);
    let n = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        await new Promise((r) => setTimeout(r, 50));
        if (n++ >= 6) return c.close();
        c.enqueue(new Uint8Array(1000));
      },
    });
    const patch = fetch(location, { method: 'PATCH', body, duplex: 'half' } as RequestInit);
    await new Promise((r) => setTimeout(r, 120));
    const closing = s.close();
    const res = await patch;
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe('0-5999');
    await closing;
    await expect(fetch(`${s.url}/v2/`)).rejects.toThrow();
  });
});

describe('registry.yml', () => {
  it('reads storage, http.addr, auth, proxy and maintenance settings close to distribution', async () => {
    const dir = await tempDir();
    const htpasswd = join(dir.path, 'htpasswd');
    await writeFile(htpasswd, 'u:$2y$05$8hy0ylKi1HvjHFUbfLXmIeePKecDRBC/bv6HgWdtOmd9A2DYbDdka\n');
    const c = parseConfig(`
version: 0.1
log: {accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: ${dir.path}}
  delete: {enabled: false}
  maintenance: {readonly: {enabled: true}}
http: {addr: "127.0.0.1:5123"}
auth:
  htpasswd: {realm: test-realm, path: ${htpasswd}}
`);
    expect(c).toMatchObject({
      hostname: '127.0.0.1',
      port: 5123,
      accessLog: false,
      registry: { readOnly: true, deleteEnabled: false },
    });
    expect(c.registry.storage?.name).toBe('filesystem');
    const r = createRegistry(c.registry);
    const res = await r.fetch(new Request('http://x/v2/'));
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="test-realm"');
    const mem = parseConfig(
      'storage: {inmemory: {}}\nhttp: {addr: ":0"}\nauth: {token: {secret: s3cr3t, service: svc, issuer: iss}}\nproxy: {remoteurl: "https://registry-1.docker.io", username: u, password: p}',
    );
    expect(mem.registry.storage?.name).toBe('inmemory');
    expect(mem.registry.proxy).toBeDefined();
    expect(
      parseConfig('storage: {s3: {bucket: b, regionendpoint: "http://127.0.0.1:9", accesskey: a, secretkey: s}}')
        .registry.storage?.name,
    ).toBe('s3');
    await dir.cleanup();
  });

  it('reads token, refresh-token and proxy durations as Go durations or seconds, as distribution writes them', async () => {
    const dir = await tempDir();
    const htpasswd = join(dir.path, 'htpasswd');
    await writeFile(htpasswd, `alice:${bcrypt.hashSync('pw', 4)}\n`);
    const c = parseConfig(
      `storage: {inmemory: {}}\nauth: {token: {secret: s, service: svc, issuer: iss, users: ${htpasswd}, expiration: 15m, refreshexpiration: 2h}}\nproxy: {remoteurl: "http://127.0.0.1:9", ttl: 1h30m, stalledclienttimeout: 45}`,
    );
    const res = await postToken(createRegistry(c.registry), {
      grant_type: 'password',
      username: 'alice',
      password: 'pw',
      service: 'svc',
      client_id: 'config-test',
      access_type: 'offline',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { expires_in: number; refresh_token: string };
    expect(body.expires_in).toBe(900);
    const claims = JSON.parse(Buffer.from(body.refresh_token.split('.')[1]!, 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(7200);
    expect(c.registry.proxy?.tagTtlMs).toBe(5_400_000);
    expect(c.registry.proxy?.stalledClientMs).toBe(45_000);
    expect(() => parseConfig('auth: {token: {secret: s, expiration: soon}}')).toThrow(
      'auth.token.expiration "soon" is not a duration; write it like 90s, 15m or 168h',
    );
    expect(() => parseConfig('proxy: {remoteurl: "http://127.0.0.1:9", ttl: 0s}')).toThrow(
      'proxy.ttl must be longer than zero',
    );
    await dir.cleanup();
  });

  it('rejects unusable configs with CONFIG_INVALID', () => {
    for (const text of [
      '[1, 2',
      'storage: {nfs: {}}',
      'storage: {inmemory: {}}\nauth: {htpasswd: {realm: r}}',
      'http: {addr: "nope"}',
      'storage: {inmemory: {}}\nauth: {token: {algorithm: PS512}}',
    ]) {
      let err: unknown;
      try {
        parseConfig(text);
      } catch (e) {
        err = e;
      }
      expect(err, text).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    }
    expect(parseAddr(':5000')).toEqual({ hostname: '0.0.0.0', port: 5000 });
  });
});

describe('startServer (what lade serve calls)', () => {
  it('starts from a config with overrides, logs through the given sink and stops gracefully', async () => {
    const dir = await tempDir();
    const cfg = join(dir.path, 'registry.yml');
    await writeFile(cfg, 'storage: {inmemory: {}}\nhttp: {addr: ":5000"}\n');
    const entries: unknown[] = [];
    const started = await startServer({
      config: cfg,
      addr: '127.0.0.1:0',
      root: join(dir.path, 'data'),
      log: (e) => entries.push(e),
    });
    expect(started.registry.store.driver.name).toBe('filesystem');
    expect((await fetch(`${started.server.url}/v2/`)).status).toBe(200);
    expect(entries).toHaveLength(1);
    await started.close();
    await expect(fetch(`${started.server.url}/v2/`)).rejects.toThrow();
    await dir.cleanup();
  });
});

describe('lade-server binary', () => {
  it('serves with --config/--addr/--root, prints JSON access logs and exits 0 on SIGTERM', async () => {
    const dir = await tempDir();
    const port = await freePort();
    const cfg = join(dir.path, 'registry.yml');
    await writeFile(cfg, 'storage: {inmemory: {}}\nhttp: {addr: ":1"}\n');
    const child = spawn(
      serverArgv()[0],
      [...serverArgv().slice(1), '--config', cfg, '--addr', `127.0.0.1:${port}`, '--root', join(dir.path, 'data')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    for (let i = 0; i < 100 && !err.includes('listening'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(err).toContain(`listening on http://127.0.0.1:${port} (storage: filesystem)`);
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
      child.on('exit', (code, signal) => r({ code, signal })),
    );
    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect(err).toContain('lade-server: SIGTERM, finishing in-flight requests');
    // Deno's child_process reports a child that handled SIGTERM and exited 0 as killed by the signal.
    if (onDeno) expect(code === 0 || signal === 'SIGTERM').toBe(true);
    else expect(code).toBe(0);
    expect(JSON.parse(out.trim().split('\n')[0]!)).toMatchObject({ method: 'GET', path: '/v2/', status: 200 });
    await dir.cleanup();
  });

  it('garbage-collect --dry-run reports without deleting, and a real run sweeps', async () => {
    const dir = await tempDir();
    const registry = createRegistry({ storage: new FilesystemDriver(dir.path) });
    const post = await registry.fetch(
      new Request(`http://x/v2/gc/blobs/uploads/?digest=${sha256('orphan')}`, { method: 'POST', body: 'orphan' }),
    );
    expect(post.status).toBe(201);
    await registry.fetch(new Request(`http://x/v2/gc/blobs/${sha256('orphan')}`, { method: 'DELETE' }));
    const gc = (...extra: string[]) =>
      runOk(serverArgv()[0], [
        ...serverArgv().slice(1),
        'garbage-collect',
        '--root',
        dir.path,
        '--grace',
        '0',
        ...extra,
      ]);
    expect(JSON.parse(await gc('--dry-run'))).toMatchObject({ blobsDeleted: 1, deleted: [sha256('orphan')] });
    expect(JSON.parse(await gc())).toMatchObject({ blobsDeleted: 1 });
    expect(JSON.parse(await gc())).toMatchObject({ blobsDeleted: 0 });
    await dir.cleanup();
  });
});
