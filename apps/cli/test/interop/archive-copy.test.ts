import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fixturesDir,
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  runOk,
  startRegistry,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lade, ladeBin, ladeProcess, nodeBin } from '../helpers.js';

const helloId = 'sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44';

async function skopeoDigest(ref: string): Promise<string> {
  return JSON.parse(await runOk('skopeo', ['inspect', '--tls-verify=false', ref])).Digest as string;
}

describe('save and load', () => {
  let home: { path: string; cleanup: () => Promise<void> };
  let store: string;
  const run = (args: string[], options: Parameters<typeof lade>[2] = {}) =>
    lade(home.path, args, { ...options, env: { LADE_HOME: store, ...options.env } });

  beforeAll(async () => {
    home = await tempDir('lade-cli-home-');
    store = join(home.path, 'store');
  });
  afterAll(async () => {
    await home?.cleanup();
  });

  it('loads a real Docker 25 save (untagged) and reports its image ID', async () => {
    const r = await run(['load', '-i', join(fixturesDir, 'ggcr/hello-world-v25.tar')]);
    expect(r).toMatchObject({ code: 0, stdout: `Loaded image ID: ${helloId}\n`, stderr: '' });
    const images = await run(['images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']);
    expect(images.stdout).toBe(`${helloId} <none>:<none>\n`);
  });

  it('loads every image of a bundle from stdin with -q', async () => {
    const bytes = await readFile(join(fixturesDir, 'ggcr/test_bundle.tar'));
    const r = await run(['load', '-q'], { stdin: bytes });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'Loaded image: test_image_1:latest',
      'Loaded image: test_image_2:latest',
    ]);
  });

  it.each(['no_manifest.tar', 'null_manifest.tar'])('refuses %s with exit 1 and loads nothing', async (name) => {
    const before = await readFile(join(store, 'index.json'), 'utf8');
    const r = await run(['load', '-i', join(fixturesDir, 'ggcr', name)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: .+\n$/);
    expect(await readFile(join(store, 'index.json'), 'utf8')).toBe(before);
  });

  it('saves to a file and to stdout with identical bytes, and loads back the same image ID', async () => {
    expect((await run(['tag', helloId.slice(7, 19), 'hello:v25'])).code).toBe(0);
    const file = join(home.path, 'hello.tar');
    const r = await run(['save', '-o', file, 'hello:v25']);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const piped = await run(['image', 'save', 'hello:v25']);
    expect(piped.code).toBe(0);
    // Same members with the same bytes (blobs enter the tar as copy delivers them, so their order may differ).
    const pipedFile = join(home.path, 'piped.tar');
    await writeFile(pipedFile, piped.stdoutBytes);
    const members = async (tar: string) => {
      const names = (await runOk('tar', ['-tf', tar])).trim().split('\n').sort();
      const sums: string[] = [];
      for (const n of names)
        if (!n.endsWith('/'))
          sums.push(
            `${n} ${createHash('sha256')
              .update(await runOk('tar', ['-xOf', tar, n]))
              .digest('hex')}`,
          );
      return sums;
    };
    expect(await members(pipedFile)).toEqual(await members(file));
    const manifest = JSON.parse(await runOk('tar', ['-xOf', file, 'manifest.json']));
    expect(manifest[0].RepoTags).toEqual(['hello:v25']);
    expect(manifest[0].Config).toBe(`blobs/sha256/${helloId.slice(7)}`);
    expect((await run(['rmi', 'hello:v25'])).code).toBe(0);
    const loaded = await run(['load', '-i', file]);
    expect(loaded).toMatchObject({ code: 0, stdout: 'Loaded image: hello:v25\n' });
    const id = await run(['inspect', '--format', '{{.Id}}', 'hello:v25']);
    expect(id.stdout).toBe(`${helloId}\n`);
  });

  it('saves several names of one image as one entry with all its RepoTags', async () => {
    expect((await run(['tag', 'test_image_1', 'again:2'])).code).toBe(0);
    const file = join(home.path, 'multi.tar');
    expect((await run(['save', '-o', file, 'test_image_1', 'again:2', 'test_image_2'])).code).toBe(0);
    const manifest = JSON.parse(await runOk('tar', ['-xOf', file, 'manifest.json']));
    expect(manifest.map((m: { RepoTags: string[] }) => m.RepoTags)).toEqual([
      ['test_image_1:latest', 'again:2'],
      ['test_image_2:latest'],
    ]);
  });

  it("refuses to write an archive to a terminal, in docker's words", async () => {
    const r = await run(['save', 'hello:v25'], { stdoutIsTTY: true });
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr: 'Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n',
    });
  });

  it('refuses to save an image the store does not have and writes no file', async () => {
    const file = join(home.path, 'none.tar');
    const r = await run(['save', '-o', file, 'nothere:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error: No such image: nothere:1\n');
    await expect(readFile(file)).rejects.toThrow();
  });

  it('refuses load from an interactive terminal without -i', async () => {
    const r = await run(['load'], { stdinIsTTY: true });
    expect(r).toMatchObject({ code: 1, stderr: 'Error: requested load from stdin, but stdin is empty\n' });
  });
});

describe.runIf(peersAvailable('skopeo', 'docker-registry'))('copy between transports, with skopeo as the judge', () => {
  let registry: PeerRegistry;
  let home: { path: string; cleanup: () => Promise<void> };
  let store: string;
  let R: string;
  let layout: string;
  const run = (args: string[]) => lade(home.path, args, { env: { LADE_HOME: store } });

  beforeAll(async () => {
    home = await tempDir('lade-cli-home-');
    store = join(home.path, 'store');
    registry = await startRegistry();
    R = registry.host;
    layout = await peerFixtures({ big: 8 });
    await pushPeerFixtures(layout, R, ['tricky', 'multi']);
  });
  afterAll(async () => {
    await registry?.stop();
    await home?.cleanup();
  });

  it('copies a whole index registry → oci: layout with identical digests, printing skopeo-style lines', async () => {
    const dir = join(home.path, 'layout');
    const r = await run(['copy', '--all', `docker://${R}/fixtures/multi:latest`, `oci:${dir}:multi`]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Getting image source signatures');
    expect(lines.at(-1)).toBe('Writing manifest to image destination');
    for (const l of lines.slice(1, -1))
      expect(l).toMatch(/^Copying (blob|config) sha256:[0-9a-f]{64} (done|skipped: already exists)$/);
    expect(await skopeoDigest(`oci:${dir}:multi`)).toBe(await skopeoDigest(`docker://${R}/fixtures/multi:latest`));
    const raw = JSON.parse(await runOk('skopeo', ['inspect', '--raw', `oci:${dir}:multi`]));
    expect(raw.manifests).toHaveLength(2);
  });

  it('copies oci: → oci-archive: → docker-archive: → local store → registry, digests kept end to end', async () => {
    const ociTar = join(home.path, 'tricky-oci.tar');
    const dockerTar = join(home.path, 'tricky-docker.tar');
    expect((await run(['copy', '-q', `oci:${layout}:tricky`, `oci-archive:${ociTar}:tricky`])).code).toBe(0);
    expect(
      (await run(['copy', '-q', `oci-archive:${ociTar}:tricky`, `docker-archive:${dockerTar}:tricky:v1`])).code,
    ).toBe(0);
    expect(JSON.parse(await runOk('tar', ['-xOf', dockerTar, 'manifest.json']))[0].RepoTags).toEqual(['tricky:v1']);
    expect((await run(['copy', '-q', `docker-archive:${dockerTar}`, 'lade:tricky:v1'])).code).toBe(0);
    expect((await run(['copy', '-q', 'tricky:v1', `docker://${R}/copied/tricky:v1`])).code).toBe(0);
    const want = await skopeoDigest(`oci:${layout}:tricky`);
    expect(await skopeoDigest(`oci-archive:${ociTar}:tricky`)).toBe(want);
    expect(await skopeoDigest(`oci:${store}:tricky:v1`)).toBe(want);
    expect(await skopeoDigest(`docker://${R}/copied/tricky:v1`)).toBe(want);
    // skopeo reads what lade wrote, and lade reads what skopeo wrote.
    const skopeoTar = join(home.path, 'skopeo.tar');
    await runOk('skopeo', ['copy', '-q', `docker-archive:${dockerTar}`, `docker-archive:${skopeoTar}:back:1`]);
    const back = await run(['load', '-i', skopeoTar]);
    expect(back).toMatchObject({ code: 0, stdout: 'Loaded image: back:1\n' });
    const ids = await run(['images', '--no-trunc', '--format', '{{.ID}}', 'back']);
    const orig = await run(['images', '--no-trunc', '--format', '{{.ID}}', 'tricky']);
    expect(ids.stdout).toBe(orig.stdout);
  });

  it('converts to Docker v2s2 with --format v2s2', async () => {
    const r = await run([
      'copy',
      '-q',
      '--format',
      'v2s2',
      `oci:${layout}:tricky`,
      `docker://${R}/converted/tricky:v2s2`,
    ]);
    expect(r.code).toBe(0);
    const raw = JSON.parse(
      await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/converted/tricky:v2s2`]),
    );
    expect(raw.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
  });

  it.each([
    [
      ['copy', 'dir:/tmp/x', 'oci:/tmp/y'],
      /^Invalid image name "dir:\/tmp\/x", transport "dir" is not supported by lade/,
    ],
    [['copy', '--all', '--platform', 'linux/amd64', 'a:1', 'b:1'], /^--all and --platform cannot be used together/],
    [['copy', '--format', 'v2s1', 'a:1', 'b:1'], /^unknown format "v2s1"/],
  ])('refuses %j before touching anything', async (args, message) => {
    const r = await run(args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });

  it('fails a copy from a missing image with exit 1 and writes no archive', async () => {
    const out = join(home.path, 'missing.tar');
    const r = await run(['copy', `docker://${R}/fixtures/tricky:nope`, `docker-archive:${out}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('manifest unknown');
    expect((await run(['inspect', 'nothing'])).code).toBe(1);
    await expect(readFile(out)).rejects.toThrow();
  });

  it('runs the built binary end to end: pull, images --format, a flag error, save into a pipe, load', async () => {
    const env = { LADE_HOME: join(home.path, 'bin-store'), PATH: process.env.PATH ?? '' };
    const pulled = await ladeProcess(home.path, ['pull', '-q', `${R}/fixtures/tricky`], { env });
    expect(pulled).toMatchObject({ code: 0, stdout: `${R}/fixtures/tricky:latest\n` });
    const listed = await ladeProcess(home.path, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { env });
    expect(listed.stdout).toBe(`${R}/fixtures/tricky:latest\n`);
    const bad = await ladeProcess(home.path, ['images', '--frob'], { env });
    expect(bad).toMatchObject({
      code: 125,
      stderr:
        "unknown flag: --frob\n\nUsage:  lade images [OPTIONS] [REPOSITORY[:TAG]]\n\nRun 'lade images --help' for more information\n",
    });
    const tarPath = join(home.path, 'piped.tar');
    await runOk('sh', ['-c', `"${nodeBin}" "${ladeBin}" save "${R}/fixtures/tricky" > "${tarPath}"`], {
      env: { ...env, HOME: home.path },
    });
    expect(JSON.parse(await runOk('tar', ['-xOf', tarPath, 'manifest.json']))[0].RepoTags).toEqual([
      `${R}/fixtures/tricky:latest`,
    ]);
    const loaded = await run(['load', '-i', tarPath]);
    expect(loaded).toMatchObject({ code: 0, stdout: `Loaded image: ${R}/fixtures/tricky:latest\n` });
    // save | load through a pipe, store to store.
    const piped = await runOk(
      'sh',
      [
        '-c',
        `"${nodeBin}" "${ladeBin}" save "${R}/fixtures/tricky" | LADE_HOME="${join(home.path, 'piped-store')}" "${nodeBin}" "${ladeBin}" load`,
      ],
      { env: { ...env, HOME: home.path } },
    );
    expect(piped).toBe(`Loaded image: ${R}/fixtures/tricky:latest\n`);
  });
});
