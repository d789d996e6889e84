import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  freePort,
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  runOk,
  startRegistry,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lade } from '../helpers.js';

const layerLine =
  /^[0-9a-f]{12}: (Pulling fs layer|Waiting|Verifying Checksum|Download complete|Pull complete|Already exists)$/;

async function skopeoDigest(ref: string): Promise<string> {
  return JSON.parse(await runOk('skopeo', ['inspect', '--tls-verify=false', ref])).Digest as string;
}

describe.runIf(peersAvailable('skopeo', 'docker-registry'))(
  'pull, push, tag, rmi and prune against docker-registry',
  () => {
    let registry: PeerRegistry;
    let home: { path: string; cleanup: () => Promise<void> };
    let store: string;
    let R: string;
    const run = (args: string[], options: Parameters<typeof lade>[2] = {}) =>
      lade(home.path, args, { ...options, env: { LADE_HOME: store, ...options.env } });
    const index = () => readFile(join(store, 'index.json'), 'utf8');

    beforeAll(async () => {
      home = await tempDir('lade-cli-home-');
      store = join(home.path, 'store');
      registry = await startRegistry();
      R = registry.host;
      const layout = await peerFixtures({ big: 8 });
      await pushPeerFixtures(layout, R);
      await runOk('skopeo', [
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `oci:${layout}:tricky`,
        `docker://${R}/fixtures/amd64:second`,
      ]);
    });
    afterAll(async () => {
      await registry?.stop();
      await home?.cleanup();
    });

    it("pulls by tag with docker's output lines, and skopeo reads the store with the digest lade printed", async () => {
      const r = await run(['pull', `${R}/fixtures/amd64`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('Using default tag: latest');
      expect(lines[1]).toBe('latest: Pulling from fixtures/amd64');
      const tail = lines.slice(-3);
      expect(tail[0]).toMatch(/^Digest: sha256:[0-9a-f]{64}$/);
      expect(tail[1]).toBe(`Status: Downloaded newer image for ${R}/fixtures/amd64:latest`);
      expect(tail[2]).toBe(`${R}/fixtures/amd64:latest`);
      for (const l of lines.slice(2, -3)) expect(l).toMatch(layerLine);
      expect(lines.some((l) => l.endsWith(': Pull complete'))).toBe(true);
      const printed = tail[0]!.slice('Digest: '.length);
      expect(await skopeoDigest(`docker://${R}/fixtures/amd64:latest`)).toBe(printed);
      expect(await skopeoDigest(`oci:${store}:${R}/fixtures/amd64:latest`)).toBe(printed);
    });

    it('says the image is up to date on a second pull, with every layer already there', async () => {
      const r = await run(['pull', `${R}/fixtures/amd64:latest`]);
      expect(r.code).toBe(0);
      const layers = r.stdout.split('\n').filter((l) => layerLine.test(l));
      expect(layers.length).toBeGreaterThan(0);
      for (const l of layers) expect(l).toMatch(/^[0-9a-f]{12}: Already exists$/);
      expect(r.stdout).toContain(`Status: Image is up to date for ${R}/fixtures/amd64:latest\n`);
    });

    it('pulls by digest and names the image by its digest', async () => {
      const digest = await skopeoDigest(`docker://${R}/fixtures/tricky:latest`);
      const r = await run(['pull', `${R}/fixtures/tricky@${digest}`]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`${digest}: Pulling from fixtures/tricky`);
      expect(lines.at(-2)).toBe(`Status: Downloaded newer image for ${R}/fixtures/tricky@${digest}`);
      expect(lines.at(-1)).toBe(`${R}/fixtures/tricky@${digest}`);
      const inspect = await run(['image', 'inspect', `${R}/fixtures/tricky@${digest}`]);
      expect(inspect.code).toBe(0);
      expect(JSON.parse(inspect.stdout)[0].RepoDigests).toEqual([`${R}/fixtures/tricky@${digest}`]);
    });

    it('pulls the platform asked for out of an index and records the index digest', async () => {
      const indexDigest = await skopeoDigest(`docker://${R}/fixtures/multi:latest`);
      const armDigest = JSON.parse(
        await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/fixtures/multi:latest`]),
      ).manifests.find((m: { platform: { architecture: string } }) => m.platform.architecture === 'arm64')
        .digest as string;
      const r = await run(['pull', '--platform', 'linux/arm64', `${R}/fixtures/multi`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Digest: ${indexDigest}\n`);
      expect(await skopeoDigest(`oci:${store}:${R}/fixtures/multi:latest`)).toBe(armDigest);
      const inspect = JSON.parse((await run(['inspect', `${R}/fixtures/multi`])).stdout)[0];
      expect(inspect.Architecture).toBe('arm64');
      expect(inspect.RepoDigests).toEqual([`${R}/fixtures/multi@${indexDigest}`]);
    });

    it('pulls every tag of a repository with -a', async () => {
      const r = await run(['pull', '-a', `${R}/fixtures/amd64`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('latest: Pulling from fixtures/amd64\n');
      expect(r.stdout).toContain('second: Pulling from fixtures/amd64\n');
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`${R}/fixtures/amd64`);
      expect(await skopeoDigest(`oci:${store}:${R}/fixtures/amd64:second`)).toBe(
        await skopeoDigest(`docker://${R}/fixtures/amd64:second`),
      );
    });

    it("reports Pull complete in layer order, as docker's bottom-up extraction does", async () => {
      const other = join(home.path, 'order-store');
      const r = await lade(home.path, ['pull', `${R}/fixtures/big`], { env: { LADE_HOME: other } });
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n');
      const first = (status: string) => lines.filter((l) => l.endsWith(`: ${status}`)).map((l) => l.slice(0, 12));
      const raw = JSON.parse(
        await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/fixtures/big:latest`]),
      );
      const order = (raw.layers as { digest: string }[]).map((l) => l.digest.slice(7, 19));
      expect(order.length).toBeGreaterThanOrEqual(4);
      expect(first('Pulling fs layer').sort()).toEqual([...order].sort());
      expect(first('Pull complete')).toEqual(order);
      expect(first('Waiting').length).toBeGreaterThan(0);
    });

    it('prints only the name with -q', async () => {
      const r = await run(['pull', '-q', `${R}/fixtures/amd64:second`]);
      expect(r).toMatchObject({ code: 0, stdout: `${R}/fixtures/amd64:second\n`, stderr: '' });
    });

    it('draws progress in place on a terminal', async () => {
      const r = await run(['pull', `${R}/fixtures/big`], { stdoutIsTTY: true });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('\x1b[2K\r');
      expect(r.stdout).toMatch(/: Downloading \[=*>\s*\]\s+[\d.]+[kM]?B\/[\d.]+MB/);
      expect(r.stdout).toContain(`Status: Downloaded newer image for ${R}/fixtures/big:latest\n`);
    });

    it.each([
      [
        ['pull', '$R/fixtures/amd64:nope'],
        'Error: manifest for $R/fixtures/amd64:nope not found: manifest unknown: manifest unknown\n',
      ],
      [
        ['pull', '--platform', 'linux/s390x', '$R/fixtures/multi'],
        'Error: no matching manifest for linux/s390x in the manifest list entries\n',
      ],
      [
        ['pull', '--platform', 'linux/arm64', '$R/fixtures/tricky'],
        'Error: image with reference $R/fixtures/tricky:latest was found but does not match the specified platform: wanted linux/arm64/v8, actual: linux/amd64\n',
      ],
      [
        ['pull', '127.0.0.1:$P/app'],
        'Error: Get "http://127.0.0.1:$P/v2/": dial tcp 127.0.0.1:$P: connect: connection refused\n',
      ],
      [['pull', 'Name'], 'Error: invalid reference format: repository name (library/Name) must be lowercase\n'],
      [['pull', '-a', '$R/fixtures/amd64:latest'], "Error: tag can't be used with --all-tags/-a\n"],
    ])('fails %j with exit 1, the docker message, and the store unchanged', async (args, message) => {
      const before = await index();
      const port = String(await freePort());
      const fill = (s: string) => s.replace('$R', R).replaceAll('$P', port);
      const r = await run(args.map(fill));
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('Error'))[0]).toBe(fill(message).trimEnd());
      expect(await index()).toBe(before);
    });

    it('rejects a missing argument and an unknown flag like docker', async () => {
      const a = await run(['pull']);
      expect(a).toMatchObject({
        code: 1,
        stderr:
          "lade: 'lade pull' requires 1 argument\n\nUsage:  lade pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nRun 'lade pull --help' for more information\n",
      });
      const f = await run(['pull', '--frob', 'x']);
      expect(f).toMatchObject({
        code: 125,
        stderr:
          "unknown flag: --frob\n\nUsage:  lade pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nRun 'lade pull --help' for more information\n",
      });
    });

    it('tags and pushes an image; skopeo sees the digest lade printed', async () => {
      expect((await run(['tag', `${R}/fixtures/amd64`, `${R}/pushed/app:v1`])).code).toBe(0);
      const r = await run(['push', `${R}/pushed/app:v1`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`The push refers to repository [${R}/pushed/app]`);
      // Pulled from fixtures/amd64 on the same registry: the layer is mounted from there, as docker does.
      for (const l of lines.slice(1, -1)) {
        expect(l).toMatch(/^[0-9a-f]{12}: (Preparing|Waiting|Mounted from fixtures\/amd64|Layer already exists)$/);
      }
      expect(lines.some((l) => l.endsWith(': Mounted from fixtures/amd64'))).toBe(true);
      const m = /^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$/.exec(lines.at(-1) ?? '');
      expect(m).not.toBeNull();
      expect(await skopeoDigest(`docker://${R}/pushed/app:v1`)).toBe(m![1]);
      expect(await skopeoDigest(`docker://${R}/pushed/app:v1`)).toBe(
        await skopeoDigest(`docker://${R}/fixtures/amd64:latest`),
      );
      const again = await run(['image', 'push', `${R}/pushed/app:v1`]);
      expect(again.stdout).toMatch(/: Layer already exists\n/);
    });

    it('draws push progress in place on a terminal', async () => {
      expect((await run(['tag', `${R}/fixtures/amd64:latest`, `${R}/pushed/amd64:tty`])).code).toBe(0);
      const r = await run(['push', `${R}/pushed/amd64:tty`], { stdoutIsTTY: true });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('\x1b[2K\r');
      expect(r.stdout).toMatch(/: (Pushed|Layer already exists|Mounted from fixtures\/amd64) \r/);
      expect(r.stdout).toMatch(/tty: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
    });

    it('lists pushed layers top layer first, as docker does', async () => {
      const env = { LADE_HOME: join(home.path, 'push-order-store') };
      expect((await lade(home.path, ['pull', '-q', `${R}/fixtures/big`], { env })).code).toBe(0);
      expect((await lade(home.path, ['tag', `${R}/fixtures/big`, `${R}/pushorder/big:1`], { env })).code).toBe(0);
      const r = await lade(home.path, ['push', `${R}/pushorder/big:1`], { env });
      expect(r.code).toBe(0);
      const raw = JSON.parse(
        await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${R}/fixtures/big:latest`]),
      );
      const layers = (raw.layers as { digest: string }[]).map((l) => l.digest.slice(7, 19));
      const preparing = r.stdout
        .split('\n')
        .filter((l) => l.endsWith(': Preparing'))
        .map((l) => l.slice(0, 12));
      expect(preparing).toEqual([...layers].reverse());
    });

    it('pushes every tag of a repository with -a', async () => {
      for (const t of ['1', '2'])
        expect((await run(['tag', `${R}/fixtures/amd64:latest`, `${R}/all/x:${t}`])).code).toBe(0);
      const r = await run(['push', '-a', `${R}/all/x`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\n1: digest: sha256:[0-9a-f]{64} size: \d+\n/);
      expect(r.stdout).toMatch(/\n2: digest: sha256:[0-9a-f]{64} size: \d+\n$/);
      expect((await run(['tags', 'ls', `${R}/all/x`])).stdout.trim().split('\n').sort()).toEqual(['1', '2']);
    });

    it("refuses to push an image the store does not have, in docker's words", async () => {
      const r = await run(['push', `${R}/nothere/app:v1`]);
      expect(r).toMatchObject({
        code: 1,
        stderr: `Error: An image does not exist locally with the tag: ${R}/nothere/app\n`,
      });
    });

    it('untags with rmi and deletes the image with its last name', async () => {
      await run(['tag', `${R}/fixtures/amd64:latest`, 'scratch/a:1']);
      await run(['tag', `${R}/fixtures/amd64:latest`, 'scratch/a:2']);
      const first = await run(['rmi', 'scratch/a:1']);
      expect(first).toMatchObject({ code: 0, stdout: 'Untagged: scratch/a:1\n' });
      const missing = await run(['rmi', 'scratch/a:1']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/^Error: No such image: scratch\/a:1/);
      const id = JSON.parse((await run(['inspect', 'scratch/a:2'])).stdout)[0].Id as string;
      const byId = await run(['rmi', id.slice(7, 19)]);
      expect(byId.code).toBe(1);
      expect(byId.stderr).toContain('must be forced');
      const forced = await run(['rmi', '-f', id.slice(7, 19)]);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain('Untagged: scratch/a:2\n');
      expect(forced.stdout).toContain(`Deleted: ${id}\n`);
      expect((await run(['inspect', 'scratch/a:2'])).code).toBe(1);
    });

    it('asks before pruning, does nothing without a yes, and prunes dangling images with -f', async () => {
      // A tag that moves to another image leaves the first one dangling.
      await run(['pull', '-q', `${R}/fixtures/big`]);
      await run(['pull', '-q', `${R}/fixtures/amd64`]);
      await run(['tag', `${R}/fixtures/big`, 'moving:tag']);
      await run(['rmi', `${R}/fixtures/big`]);
      await run(['tag', `${R}/fixtures/amd64:latest`, 'moving:tag']);
      const dangling = await run(['images', '--filter', 'dangling=true', '-q']);
      expect(dangling.stdout).toMatch(/^[0-9a-f]{12}\n/);
      const before = await index();
      const asked = await run(['image', 'prune']);
      expect(asked).toMatchObject({
        code: 0,
        stdout: 'WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ',
      });
      expect(await index()).toBe(before);
      const no = await run(['image', 'prune'], { stdin: 'n\n' });
      expect(no.code).toBe(0);
      expect(await index()).toBe(before);
      const yes = await run(['image', 'prune'], { stdin: 'y\n' });
      expect(yes.code).toBe(0);
      expect(yes.stdout).toMatch(/^WARNING! .*\n.* \[y\/N\] Deleted Images:\n(untagged: .*\n)*deleted: sha256:/);
      expect(yes.stdout).toMatch(/Total reclaimed space: \d+(\.\d+)?[kM]?B\n$/);
      const again = await run(['image', 'prune', '-f']);
      expect(again).toMatchObject({ code: 0, stdout: 'Total reclaimed space: 0B\n' });
    });
  },
);
