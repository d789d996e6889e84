import { join } from 'node:path';
import { fixturesDir, tempDir } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lade } from './helpers.js';

const helloId = 'sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44';

describe('images, history and inspect on a store loaded from docker archives', () => {
  let home: { path: string; cleanup: () => Promise<void> };
  const run = (args: string[]) => lade(home.path, args, { env: { LADE_HOME: join(home.path, 'store') } });

  beforeAll(async () => {
    home = await tempDir('lade-cli-home-');
    expect((await run(['load', '-q', '-i', join(fixturesDir, 'ggcr/test_bundle.tar')])).code).toBe(0);
    expect((await run(['load', '-q', '-i', join(fixturesDir, 'ggcr/hello-world-v25.tar')])).code).toBe(0);
  });
  afterAll(async () => {
    await home?.cleanup();
  });

  it("lists images in docker's columns", async () => {
    const r = await run(['images']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY {3,}TAG {3,}IMAGE ID {3,}CREATED {3,}SIZE$/);
    expect(lines).toHaveLength(4);
    expect(lines.some((l) => /^<none> +<none> +ee301c921b8a +\d+ years ago +11\.3kB$/.test(l))).toBe(true);
    expect(
      lines.filter((l) => /^test_image_[12] +latest +[0-9a-f]{12} +\d+ years ago +[\d.]+kB$/.test(l)),
    ).toHaveLength(2);
  });

  it('filters by reference glob, dangling, and a positional repository', async () => {
    const refs = await run(['images', '--filter', 'reference=test_image_*', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(refs.stdout.trim().split('\n').sort()).toEqual(['test_image_1:latest', 'test_image_2:latest']);
    const dangling = await run(['images', '-q', '--no-trunc', '--filter', 'dangling=true']);
    expect(dangling.stdout).toBe(`${helloId}\n`);
    const tagged = await run(['images', '-q', '--filter', 'dangling=false']);
    expect(tagged.stdout.trim().split('\n')).toHaveLength(2);
    const positional = await run(['image', 'ls', '--format', '{{.Repository}}', 'test_image_2']);
    expect(positional.stdout).toBe('test_image_2\n');
  });

  it('takes the store from --root as from $LADE_HOME (the flag wins)', async () => {
    const viaEnv = await run(['images', '-q']);
    const viaFlag = await lade(home.path, ['--root', join(home.path, 'store'), 'images', '-q'], {
      env: { LADE_HOME: join(home.path, 'elsewhere') },
    });
    expect(viaFlag.stdout).toBe(viaEnv.stdout);
    expect(viaEnv.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('refuses an unknown filter and a bad template', async () => {
    expect(await run(['images', '--filter', 'bogus=1'])).toMatchObject({
      code: 1,
      stderr: "Error: invalid filter 'bogus'\n",
    });
    expect(await run(['images', '--filter', 'dangling=maybe'])).toMatchObject({
      code: 1,
      stderr: "Error: invalid filter 'dangling=maybe'\n",
    });
    const t = await run(['images', '--format', '{{.Nope}}']);
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/^Error: template parsing error: .*can't evaluate field Nope/);
  });

  it('prints rows as JSON with {{json .}} and the raw rows with --json', async () => {
    const r = await run(['images', '--format', '{{json .}}', 'test_image_1']);
    const row = JSON.parse(r.stdout);
    expect(Object.keys(row)).toEqual([
      'Containers',
      'CreatedAt',
      'CreatedSince',
      'Digest',
      'ID',
      'Repository',
      'SharedSize',
      'Size',
      'Tag',
      'UniqueSize',
      'VirtualSize',
    ]);
    expect(row).toMatchObject({ Repository: 'test_image_1', Tag: 'latest', Digest: '<none>', Containers: 'N/A' });
    const json = JSON.parse((await run(['images', '--json'])).stdout);
    expect(json).toHaveLength(3);
    expect(json.find((x: { imageId: string }) => x.imageId === helloId)).toMatchObject({
      repository: '<none>',
      tag: '<none>',
      dangling: true,
      size: 11333,
    });
  });

  it("shows history in docker's columns, with <missing> below the top row", async () => {
    const r = await run(['history', helloId.slice(7, 19)]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^IMAGE {3,}CREATED {3,}CREATED BY {3,}SIZE {3,}COMMENT$/);
    expect(lines[1]).toMatch(/^ee301c921b8a +\d+ years ago +CMD \["\/hello"\] +0B +buildkit\.dockerfile\.v0$/);
    expect(lines[2]).toMatch(/^<missing> +\d+ years ago +COPY hello \/ # buildkit +10\.8kB +buildkit\.dockerfile\.v0$/);
    const q = await run(['history', '-q', '--no-trunc', helloId]);
    expect(q.stdout).toBe(`${helloId}\n<missing>\n`);
    const json = JSON.parse((await run(['history', '--json', helloId])).stdout);
    expect(json.map((h: { id: string; size: number }) => [h.id, h.size])).toEqual([
      [helloId, 0],
      ['<missing>', 10752],
    ]);
    const raw = await run(['history', '--human=false', '--format', '{{.Size}}|{{.CreatedAt}}', helloId]);
    expect(raw.stdout).toMatch(/^0\|\d{4}-\d\d-\d\dT[\d:.]+Z\n10752\|\d{4}-/);
  });

  it("inspects as docker's JSON array, with --format, and reports a missing image", async () => {
    const r = await run(['image', 'inspect', 'test_image_1']);
    const [img] = JSON.parse(r.stdout);
    expect(img).toMatchObject({ RepoTags: ['test_image_1:latest'], RepoDigests: [], RootFS: { Type: 'layers' } });
    expect(r.stdout.split('\n')[1]).toBe('    {');
    const f = await run(['inspect', '--format', '{{.Id}} {{.Os}} {{len .RootFS.Layers}}', helloId.slice(7)]);
    expect(f.stdout).toBe(`${helloId} linux 1\n`);
    const missing = await run(['inspect', 'nothere']);
    expect(missing).toMatchObject({ code: 1, stdout: '[]\n' });
    expect(missing.stderr).toMatch(/^Error: No such image: nothere/);
  });

  it('words a missing image as docker does, with the default tag, and rmi -f ignores it', async () => {
    expect(await run(['tag', 'nothere', 'new:1'])).toMatchObject({
      code: 1,
      stderr: 'Error: No such image: nothere:latest\n',
    });
    expect(await run(['history', 'nothere'])).toMatchObject({
      code: 1,
      stderr: 'Error: No such image: nothere:latest\n',
    });
    expect(await run(['rmi', 'nothere', 'x:1'])).toMatchObject({
      code: 1,
      stderr: 'Error: No such image: nothere:latest\nError: No such image: x:1\n',
    });
    expect(await run(['rmi', '-f', 'nothere'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });

  it('tags by ID prefix and refuses a digest as the target', async () => {
    expect((await run(['tag', 'ee301c', 'hello:one'])).code).toBe(0);
    expect((await run(['images', '--format', '{{.Repository}}:{{.Tag}}', 'hello'])).stdout).toBe('hello:one\n');
    const bad = await run(['tag', 'hello:one', `hello@${helloId.replace('ee30', 'ff30')}`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^Error: refusing to create a tag with a digest reference/);
  });
});
