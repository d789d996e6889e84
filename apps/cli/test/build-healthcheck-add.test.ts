import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeTar } from '@lade/archive';
import { loadImage } from '@lade/rootfs';
import { ImageStore } from '@lade/store';
import { tempDir } from '@lade/test-support';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatGoDuration, parseGoDuration } from '../src/build/healthcheck.js';
import { lade } from './helpers.js';

function setup() {
  const s: { t: { path: string; cleanup: () => Promise<void> }; root: string; ctx: string } = {
    t: { path: '', cleanup: async () => {} },
    root: '',
    ctx: '',
  };
  beforeEach(async () => {
    s.t = await tempDir('lade-build-hc-');
    s.root = join(s.t.path, 'store');
    s.ctx = join(s.t.path, 'ctx');
    mkdirSync(s.ctx);
  });
  afterEach(() => s.t.cleanup());
  const run = (args: string[], env: Record<string, string> = {}) =>
    lade(s.t.path, ['--root', s.root, ...args], { env });
  const build = (name: string, dockerfile: string, env: Record<string, string> = {}) => {
    writeFileSync(join(s.ctx, 'Dockerfile'), dockerfile);
    return run(['build', '-q', '-t', name, s.ctx], env);
  };
  const config = async (name: string) => (await loadImage((await ImageStore.open(s.root)).source(name))).config.config;
  const tags = async () => (await (await ImageStore.open(s.root)).listImages()).flatMap((i) => i.repoTags).sort();
  const unpack = async (name: string) => {
    const dir = join(s.t.path, `unpack-${name}`);
    expect((await run(['unpack', name, dir])).stderr).toBe('');
    return join(dir, 'rootfs');
  };
  return { s, build, config, tags, unpack };
}

describe('Go durations as HEALTHCHECK takes and docker history prints them', () => {
  it.each([
    ['30s', 30e9, '30s'],
    ['5m', 300e9, '5m0s'],
    ['1h', 3600e9, '1h0m0s'],
    ['1m30s', 90e9, '1m30s'],
    ['1.5s', 1.5e9, '1.5s'],
    ['1h2m3.25s', 3723.25e9, '1h2m3.25s'],
    ['250ms', 250e6, '250ms'],
    ['1500us', 1.5e6, '1.5ms'],
    ['2µs', 2e3, '2µs'],
    ['10ns', 10, '10ns'],
    ['0', 0, '0s'],
  ])('%s is %d ns and prints as %s', (text, ns, printed) => {
    expect(parseGoDuration(text)).toBe(ns);
    expect(formatGoDuration(ns)).toBe(printed);
  });
  it.each(['', '5', 'abc', '1x', 's', '1.5'])('refuses %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe('lade build: HEALTHCHECK', () => {
  const { build, config, tags } = setup();

  it('writes the shell form with every flag in nanoseconds, and docker history text', async () => {
    const r = await build(
      'hc',
      'FROM scratch\nHEALTHCHECK --interval=5m --timeout=3s --start-period=30s --start-interval=5s --retries=3 \\\n  CMD curl -f http://localhost/ || exit 1\n',
    );
    expect(r.stderr).toBe('');
    const c = await config('hc');
    expect(c.config?.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
      Interval: 300_000_000_000,
      Timeout: 3_000_000_000,
      StartPeriod: 30_000_000_000,
      StartInterval: 5_000_000_000,
      Retries: 3,
    });
    expect(c.history).toEqual([
      {
        created: '1970-01-01T00:00:00Z',
        created_by: `HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] "5m0s" "3s" "30s" "5s" '\\x03'}`,
        comment: 'buildkit.dockerfile.v0',
        empty_layer: true,
      },
    ]);
  });

  it('writes the exec form with only the fields given, and NONE over an inherited check', async () => {
    expect((await build('exec', 'FROM scratch\nHEALTHCHECK --interval=1m30s CMD ["/bin/check", "-q"]\n')).stderr).toBe(
      '',
    );
    const c = await config('exec');
    expect(c.config?.Healthcheck).toEqual({ Test: ['CMD', '/bin/check', '-q'], Interval: 90_000_000_000 });
    expect(c.history?.[0]?.created_by).toBe(`HEALTHCHECK &{["CMD" "/bin/check" "-q"] "1m30s" "0s" "0s" "0s" '\\x00'}`);
    expect((await build('none', 'FROM exec\nHEALTHCHECK NONE\n')).stderr).toBe('');
    const n = await config('none');
    expect(n.config?.Healthcheck).toEqual({ Test: ['NONE'] });
    expect(n.history?.at(-1)?.created_by).toBe(`HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" '\\x00'}`);
  });

  it.each([
    ['HEALTHCHECK --interval=soon CMD true', 'HEALTHCHECK --interval=soon is not a duration; give one such as 30s'],
    ['HEALTHCHECK --timeout=500us CMD true', 'HEALTHCHECK --timeout=500us cannot be less than 1ms; give at least 1ms'],
    ['HEALTHCHECK --retries=-1 CMD true', 'HEALTHCHECK --retries=-1 cannot be negative; give 0 or more'],
    ['HEALTHCHECK --retries=x CMD true', 'HEALTHCHECK --retries=x is not a whole number; give e.g. 3'],
    ['HEALTHCHECK --every=1s CMD true', 'unknown flag --every of HEALTHCHECK; use --interval'],
    ['HEALTHCHECK NONE now', 'HEALTHCHECK NONE takes no arguments; remove what follows NONE'],
    ['HEALTHCHECK PING x', 'unknown type "PING" in HEALTHCHECK; use CMD or NONE'],
    ['HEALTHCHECK CMD', 'HEALTHCHECK CMD needs a command after CMD'],
  ])('refuses %s with one line naming the line, storing nothing', async (line, message) => {
    const r = await build('bad', `FROM scratch\n${line}\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error: Dockerfile:2: ${message}`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(await tags()).toEqual([]);
  });
});

describe('lade build: ADD from http(s) URLs and local archives', () => {
  const { s, build, tags, unpack } = setup();
  const TOOL = new TextEncoder().encode('#!/bin/sh\necho tool\n');
  const sha = createHash('sha256').update(TOOL).digest('hex');
  let server: Server;
  let base = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/files/tool.sh') {
        res.writeHead(200, { 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT', 'Content-Length': TOOL.length });
        res.end(TOOL);
      } else if (req.url === '/download?id=7') {
        res.writeHead(200, { 'Content-Disposition': 'attachment; filename="named.txt"' });
        res.end('named\n');
      } else if (req.url === '/') {
        res.end('index\n');
      } else if (req.url?.startsWith('/enc/')) {
        res.end('encoded\n');
      } else if (req.url === '/bundle.tar.gz') {
        res.end(gzipSync(new TextEncoder().encode('not extracted')));
      } else {
        res.writeHead(404, 'Not Found');
        res.end('missing');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads into a directory with mode 0600 and Last-Modified as mtime, or to a file name', async () => {
    const r = await build(
      'url',
      `FROM scratch\nADD ${base}/files/tool.sh /opt/\nADD ${base}/files/tool.sh /bin/renamed\nADD ${base}/download?id=7 ${base}/ /dl/\nADD ${base}/enc/a%2F.. /dl2/\nADD --chmod=755 --chown=5:6 ${base}/bundle.tar.gz /keep/\n`,
    );
    expect(r.stderr).toBe('');
    const rootfs = await unpack('url');
    const st = statSync(join(rootfs, 'opt/tool.sh'));
    expect(new Uint8Array(readFileSync(join(rootfs, 'opt/tool.sh')))).toEqual(TOOL);
    expect(st.mode & 0o7777).toBe(0o600);
    expect(Math.floor(st.mtimeMs / 1000)).toBe(Date.parse('2015-10-21T07:28:00Z') / 1000);
    expect(readFileSync(join(rootfs, 'bin/renamed'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
    // The URL's path names a download (Content-Disposition does not, as in BuildKit); no path gives `__unnamed__`.
    expect(readFileSync(join(rootfs, 'dl/download'), 'utf8')).toBe('named\n');
    expect(readFileSync(join(rootfs, 'dl/__unnamed__'), 'utf8')).toBe('index\n');
    expect(readdirSync(join(rootfs, 'dl')).sort()).toEqual(['__unnamed__', 'download']);
    // a percent-encoded slash and `..` cannot make the name climb out of the destination directory
    expect(readFileSync(join(rootfs, 'dl2/__unnamed__'), 'utf8')).toBe('encoded\n');
    expect(readdirSync(join(rootfs, 'dl2'))).toEqual(['__unnamed__']);
    // A downloaded archive is never extracted; --chmod and --chown apply to it.
    const kept = statSync(join(rootfs, 'keep/bundle.tar.gz'));
    expect(kept.mode & 0o7777).toBe(0o755);
    expect([kept.uid, kept.gid]).toEqual([5, 6]);
  });

  it('clamps the Last-Modified time to SOURCE_DATE_EPOCH', async () => {
    const r = await build('clamped', `FROM scratch\nADD ${base}/files/tool.sh /t\n`, { SOURCE_DATE_EPOCH: '1000' });
    expect(r.stderr).toBe('');
    expect(Math.floor(statSync(join(await unpack('clamped'), 't')).mtimeMs / 1000)).toBe(1000);
  });

  it('verifies --checksum and refuses a mismatch, a bad digest and a local source with one line', async () => {
    expect((await build('sum', `FROM scratch\nADD --checksum=sha256:${sha} ${base}/files/tool.sh /t\n`)).stderr).toBe(
      '',
    );
    const wrong = '0'.repeat(64);
    const cases: [string, string][] = [
      [
        `ADD --checksum=sha256:${wrong} ${base}/files/tool.sh /t`,
        `Error: Dockerfile:2: ADD: ${base}/files/tool.sh has sha256:${sha}, not the --checksum sha256:${wrong}\n`,
      ],
      [
        `ADD --checksum=md5:abc ${base}/files/tool.sh /t`,
        'Error: Dockerfile:2: --checksum=md5:abc: give a digest such as sha256:<64 hex digits>\n',
      ],
      [
        `ADD --checksum=sha256:${sha} Dockerfile /t`,
        'Error: Dockerfile:2: ADD --checksum works only with http(s) sources; drop it\n',
      ],
      [
        `ADD --checksum=sha256:${sha} ${base}/files/tool.sh ${base}/ /d/`,
        'Error: Dockerfile:2: ADD --checksum takes one source; give each URL its own ADD\n',
      ],
      [
        `ADD ${base}/nothing /t`,
        `Error: Dockerfile:2: ADD: cannot download ${base}/nothing: the server answered 404 Not Found\n`,
      ],
      [
        'ADD ftp://127.0.0.1/x /t',
        'Error: Dockerfile:2: ADD ftp://127.0.0.1/x: lade build downloads http(s) URLs only; fetch it into the context and ADD it\n',
      ],
      [
        `COPY --checksum=sha256:${sha} ${base}/files/tool.sh /t`,
        'Error: Dockerfile:2: unknown flag --checksum of COPY; COPY takes --from, --chown, --chmod, --link\n',
      ],
    ];
    for (const [line, message] of cases) {
      const r = await build('bad', `FROM scratch\n${line}\n`);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(message);
    }
    expect(await tags()).toEqual(['sum:latest']);
  });

  it('extracts a local gzip tar with ADD (and copies it unextracted with COPY)', async () => {
    const tar = new Uint8Array(
      await new Response(
        writeTar([
          { header: { name: 'pkg/', type: 'directory', mode: 0o750 } },
          { header: { name: 'pkg/in.txt', mode: 0o640, mtime: 1_500_000_000 }, body: 'inside\n' },
        ]),
      ).arrayBuffer(),
    );
    writeFileSync(join(s.ctx, 'b.tgz'), gzipSync(tar));
    expect((await build('tgz', 'FROM scratch\nADD b.tgz /opt/\nCOPY b.tgz /raw/\n')).stderr).toBe('');
    const rootfs = await unpack('tgz');
    expect(readFileSync(join(rootfs, 'opt/pkg/in.txt'), 'utf8')).toBe('inside\n');
    expect(statSync(join(rootfs, 'opt/pkg')).mode & 0o777).toBe(0o750);
    expect(statSync(join(rootfs, 'opt/pkg/in.txt')).mode & 0o777).toBe(0o640);
    expect(Math.floor(statSync(join(rootfs, 'opt/pkg/in.txt')).mtimeMs / 1000)).toBe(1_500_000_000);
    expect(statSync(join(rootfs, 'raw/b.tgz')).isFile()).toBe(true);
  });
});
