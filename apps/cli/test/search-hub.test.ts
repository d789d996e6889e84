import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lade } from './helpers.js';

// Docker Hub is out of reach here; this endpoint answers in the shape of Hub's /v1/search so the docker.io branch of
// `lade search` (query, limit, filters, truncation, errors) is exercised. Registry catalog search runs against a real
// docker-registry in interop/manifest-serve.test.ts.
const long = 'The official build of a small Linux distribution, with a description longer than forty-five characters';
const results = [
  { name: 'alpine', description: long, star_count: 11000, is_official: true, is_automated: false },
  { name: 'someone/alpine-tools', description: 'tools', star_count: 12, is_official: false, is_automated: true },
  { name: 'other/alpine', description: 'x', star_count: 3, is_official: false, is_automated: false },
];

describe('lade search on Docker Hub', () => {
  let server: Server;
  let base: string;
  let status = 200;
  const queries: URLSearchParams[] = [];
  let home: { path: string; cleanup: () => Promise<void> };
  const search = (...args: string[]) =>
    lade(home.path, ['search', ...args], { env: { LADE_HUB_SEARCH_URL: base, LADE_HOME: home.path } });

  beforeAll(async () => {
    home = await tempDir('lade-search-');
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      queries.push(url.searchParams);
      if (status !== 200) {
        res.writeHead(status).end();
        return;
      }
      const n = Number(url.searchParams.get('n') ?? 25);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ num_results: results.length, query: url.searchParams.get('q'), results: results.slice(0, n) }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/search`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await home.cleanup();
  });

  it('prints docker search columns, truncating descriptions to 45 characters with the ellipsis, and asks for 25 results', async () => {
    const r = await search('alpine');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]?.split(/\s{2,}/)).toEqual(['NAME', 'DESCRIPTION', 'STARS', 'OFFICIAL']);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^alpine\s+The official build of a small Linux distribu…\s+11000\s+\[OK\]$/);
    expect(queries.at(-1)?.get('q')).toBe('alpine');
    expect(queries.at(-1)?.get('n')).toBe('25');
  });

  it('keeps whole descriptions with --no-trunc and renders --format templates', async () => {
    const r = await search(
      '--no-trunc',
      '--format',
      '{{.Name}}|{{.StarCount}}|{{.IsOfficial}}|{{.Description}}',
      'alpine',
    );
    expect(r.stdout.split('\n')[0]).toBe(`alpine|11000|[OK]|${long}`);
  });

  it('filters by stars and is-official, and limits the results', async () => {
    const starred = await search('--filter', 'stars=10', '--format', '{{.Name}}', 'alpine');
    expect(starred.stdout).toBe('alpine\nsomeone/alpine-tools\n');
    const official = await search('--filter', 'is-official=true', '--format', '{{.Name}}', 'alpine');
    expect(official.stdout).toBe('alpine\n');
    const one = await search('--limit', '1', '--format', '{{.Name}}', 'docker.io/alpine');
    expect(one.stdout).toBe('alpine\n');
    expect(queries.at(-1)?.get('q')).toBe('alpine');
    expect(queries.at(-1)?.get('n')).toBe('1');
  });

  it('refuses bad filters and limits with docker’s words, and reports a failing search service', async () => {
    expect(await search('--filter', 'color=red', 'alpine')).toMatchObject({
      code: 1,
      stderr: "Error: invalid filter 'color'\n",
    });
    expect(await search('--limit', '101', 'alpine')).toMatchObject({
      code: 1,
      stderr: 'Error: limit 101 is outside the range of [1, 100]\n',
    });
    status = 500;
    try {
      expect(await search('alpine')).toMatchObject({ code: 1, stderr: 'Error: Unexpected status code 500\n' });
    } finally {
      status = 200;
    }
  });
});
