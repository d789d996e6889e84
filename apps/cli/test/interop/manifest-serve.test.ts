import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fixturesDir,
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
import { bufferedIo, runCli } from '../../src/index.js';
import { indentJson } from '../../src/output.js';
import { lade } from '../helpers.js';

async function skopeoRaw(ref: string): Promise<Record<string, unknown>> {
  return JSON.parse(await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]));
}

describe.runIf(peersAvailable('skopeo', 'docker-registry'))(
  'manifest, imagetools and search against docker-registry',
  () => {
    let registry: PeerRegistry;
    let home: { path: string; cleanup: () => Promise<void> };
    let R: string;
    const run = (args: string[]) => lade(home.path, args, { env: { LADE_HOME: join(home.path, 'store') } });

    beforeAll(async () => {
      home = await tempDir('lade-cli-home-');
      registry = await startRegistry();
      R = registry.host;
      await pushPeerFixtures(await peerFixtures({ big: 8 }), R, ['amd64', 'arm64', 'multi']);
    });
    afterAll(async () => {
      await registry?.stop();
      await home?.cleanup();
    });

    it("prints a list as docker manifest inspect does (three-space indent) and a manifest's own bytes tab-indented", async () => {
      const list = await run(['manifest', 'inspect', `${R}/fixtures/multi`]);
      expect(list.code).toBe(0);
      // distribution's manifestlist: descriptors re-marshalled as mediaType, size, digest, platform; three spaces.
      const raw = (await skopeoRaw(`docker://${R}/fixtures/multi:latest`)) as { manifests: { digest: string }[] };
      expect(list.stdout).toMatch(
        /^\{\n {3}"schemaVersion": 2,\n {3}"mediaType": "application\/vnd\.oci\.image\.index\.v1\+json",\n {3}"manifests": \[\n/,
      );
      expect(list.stdout).toContain(
        `         "mediaType": "application/vnd.oci.image.manifest.v1+json",\n         "size": 345,\n         "digest": "${raw.manifests[0]?.digest}",\n         "platform": {`,
      );
      // A single manifest: its own bytes through Go's json.Indent with tabs (the registry's trailing newline kept).
      const one = await run(['manifest', 'inspect', `${R}/fixtures/amd64`]);
      const bytes = await runOk('skopeo', [
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${R}/fixtures/amd64:latest`,
      ]);
      expect(one.stdout).toBe(`${indentJson(bytes, '\t')}\n`);
      const verbose = JSON.parse((await run(['manifest', 'inspect', '-v', `${R}/fixtures/multi`])).stdout);
      expect(
        verbose
          .map((v: { Descriptor: { platform: { architecture: string } } }) => v.Descriptor.platform.architecture)
          .sort(),
      ).toEqual(['amd64', 'arm64']);
      expect(verbose[0].Ref).toMatch(new RegExp(`^${R}/fixtures/multi:latest@sha256:`));
    });

    it('creates, annotates, pushes and removes a manifest list; skopeo reads the pushed index', async () => {
      const list = `${R}/lists/app:1`;
      const created = await run(['manifest', 'create', list, `${R}/fixtures/amd64`, `${R}/fixtures/arm64`]);
      expect(created).toMatchObject({ code: 0, stdout: `Created manifest list ${list}\n` });
      const again = await run(['manifest', 'create', list, `${R}/fixtures/amd64`]);
      expect(again).toMatchObject({
        code: 1,
        stderr: 'Error: refusing to amend an existing manifest list with no --amend flag\n',
      });
      expect((await run(['manifest', 'annotate', '--variant', 'v8', list, `${R}/fixtures/arm64`])).code).toBe(0);
      const local = JSON.parse((await run(['manifest', 'inspect', list])).stdout);
      expect(local.manifests[1].platform).toEqual({ architecture: 'arm64', os: 'linux', variant: 'v8' });
      const pushed = await run(['manifest', 'push', '--purge', list]);
      expect(pushed.code).toBe(0);
      const digest = pushed.stdout.trim();
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
      const raw = await skopeoRaw(`docker://${list}`);
      expect((raw.manifests as unknown[]).length).toBe(2);
      expect(JSON.parse(await runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${list}`])).Digest).toBe(
        digest,
      );
      const gone = await run(['manifest', 'rm', list]);
      expect(gone).toMatchObject({ code: 1, stderr: `Error: No such manifest: ${list}\n` });
    });

    it('refuses to create a list from a manifest the registry does not have, and writes no list', async () => {
      const list = `${R}/lists/missing:1`;
      const r = await run(['manifest', 'create', list, `${R}/fixtures/amd64`, `${R}/fixtures/nothere:1`]);
      expect(r).toMatchObject({ code: 1, stderr: `Error: no such manifest: ${R}/fixtures/nothere:1\n` });
      expect(await run(['manifest', 'inspect', list])).toMatchObject({ code: 1 });
    });

    it('refuses to push a list whose manifest was deleted from the registry, and pushes no list', async () => {
      await runOk('skopeo', [
        'copy',
        '-q',
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
        `docker://${R}/fixtures/amd64:latest`,
        `docker://${R}/scratch/gone:1`,
      ]);
      const list = `${R}/lists/deleted:1`;
      expect((await run(['manifest', 'create', list, `${R}/scratch/gone:1`])).code).toBe(0);
      const digest = JSON.parse(
        await runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${R}/scratch/gone:1`]),
      ).Digest as string;
      expect((await run(['delete', `${R}/scratch/gone@${digest}`])).code).toBe(0);
      const r = await run(['manifest', 'push', list]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^Error: .*(manifest unknown|not found)/);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      const after = await runOk('sh', [
        '-c',
        `skopeo inspect --raw --tls-verify=false docker://${list} >/dev/null 2>&1 && echo present || echo absent`,
      ]);
      expect(after.trim()).toBe('absent');
      expect((await run(['manifest', 'rm', list])).code).toBe(0);
    });

    it('refuses to push a list that names two images for one platform, and pushes nothing', async () => {
      const list = `${R}/lists/dup:1`;
      expect((await run(['manifest', 'create', list, `${R}/fixtures/amd64`, `${R}/fixtures/arm64`])).code).toBe(0);
      expect((await run(['manifest', 'annotate', '--arch', 'amd64', list, `${R}/fixtures/arm64`])).code).toBe(0);
      const r = await run(['manifest', 'push', list]);
      expect(r).toMatchObject({
        code: 1,
        stderr: `Error: manifest list ${list} has two images for platform linux/amd64: ${R}/fixtures/amd64:latest and ${R}/fixtures/arm64:latest; annotate one with another platform or recreate the list\n`,
      });
      const after = await runOk('sh', [
        '-c',
        `skopeo inspect --raw --tls-verify=false docker://${list} >/dev/null 2>&1 && echo present || echo absent`,
      ]);
      expect(after.trim()).toBe('absent');
      expect((await run(['manifest', 'rm', list])).code).toBe(0);
    });

    it('refuses to annotate a manifest that is not in the list', async () => {
      const list = `${R}/lists/two:1`;
      await run(['manifest', 'create', list, `${R}/fixtures/amd64`]);
      const r = await run(['manifest', 'annotate', '--os', 'linux', list, `${R}/fixtures/arm64`]);
      expect(r).toMatchObject({
        code: 1,
        stderr: `Error: manifest for image ${R}/fixtures/arm64:latest does not exist in ${list}\n`,
      });
      expect((await run(['manifest', 'rm', list])).code).toBe(0);
    });

    it('shows an index with buildx imagetools inspect, its raw bytes with --raw, and templates with --format', async () => {
      const r = await run(['buildx', 'imagetools', 'inspect', `${R}/fixtures/multi`]);
      expect(r.code).toBe(0);
      const digest = JSON.parse(
        await runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${R}/fixtures/multi:latest`]),
      ).Digest;
      expect(r.stdout).toContain(
        `Name:      ${R}/fixtures/multi:latest\nMediaType: application/vnd.oci.image.index.v1+json\nDigest:    ${digest}\n\nManifests:\n  Name:      ${R}/fixtures/multi@sha256:`,
      );
      expect(r.stdout).toContain('  Platform:  linux/arm64/v8\n');
      const raw = await run(['imagetools', 'inspect', '--raw', `${R}/fixtures/multi`]);
      expect(raw.stdout).toBe(JSON.stringify(await skopeoRaw(`docker://${R}/fixtures/multi:latest`)));
      const f = await run([
        'imagetools',
        'inspect',
        '--format',
        '{{.Manifest.digest}} {{range $p, $i := .Image}}{{$p}}={{$i.architecture}} {{end}}',
        `${R}/fixtures/multi`,
      ]);
      expect(f.stdout).toBe(`${digest} linux/amd64=amd64 linux/arm64/v8=arm64 \n`);
    });

    it("searches another registry's catalog", async () => {
      const r = await run(['search', `${R}/fix`]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$/);
      expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual([
        `${R}/fixtures/amd64`,
        `${R}/fixtures/arm64`,
        `${R}/fixtures/multi`,
      ]);
      const names = await run(['search', '--format', '{{.Name}}', `${R}/multi`]);
      expect(names.stdout).toBe(`${R}/fixtures/multi\n`);
      const json = JSON.parse((await run(['search', '--json', `${R}/multi`])).stdout);
      expect(json).toEqual([
        { name: `${R}/fixtures/multi`, description: '', star_count: 0, is_official: false, is_automated: false },
      ]);
      const bad = await run(['search', '--limit', '101', `${R}/x`]);
      expect(bad).toMatchObject({ code: 1, stderr: 'Error: limit 101 is outside the range of [1, 100]\n' });
    });
  },
);

describe('lade serve', () => {
  it('serves a registry that lade pushes to and pulls from, and stops when cancelled', async () => {
    const home = await tempDir('lade-cli-home-');
    const port = await freePort();
    const controller = new AbortController();
    const server = bufferedIo({ env: { HOME: home.path }, signal: controller.signal });
    const serving = runCli(['serve', '--addr', `127.0.0.1:${port}`, '--root', join(home.path, 'registry')], server.io);
    try {
      for (let i = 0; i < 100 && !server.stderr().includes('listening on'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(server.stderr()).toBe(
        `lade serve: listening on http://127.0.0.1:${port} (storage: ${join(home.path, 'registry')})\n`,
      );
      const env = { LADE_HOME: join(home.path, 'store') };
      const run = (args: string[]) => lade(home.path, args, { env });
      expect((await run(['load', '-q', '-i', join(fixturesDir, 'ggcr/hello-world-v25.tar')])).code).toBe(0);
      const image = `127.0.0.1:${port}/demo/hello:v25`;
      expect((await run(['tag', 'ee301c921b8a', image])).code).toBe(0);
      const pushed = await run(['push', image]);
      expect(pushed.code).toBe(0);
      const digest = /v25: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(pushed.stdout)?.[1];
      expect(digest).toBeDefined();
      expect((await run(['rmi', image])).code).toBe(0);
      const pulled = await run(['pull', image]);
      expect(pulled.stdout).toContain(`Digest: ${digest}\n`);
      expect((await run(['inspect', '--format', '{{.Id}}', image])).stdout).toBe(
        'sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44\n',
      );
    } finally {
      controller.abort();
      expect(await serving).toBe(0);
      await home.cleanup();
    }
  });

  it('takes a distribution-style config file', async () => {
    const home = await tempDir('lade-cli-home-');
    const port = await freePort();
    const config = join(home.path, 'registry.yml');
    await writeFile(
      config,
      `version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: ${join(home.path, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    const controller = new AbortController();
    const server = bufferedIo({ env: { HOME: home.path }, signal: controller.signal });
    const serving = runCli(['serve', '--config', config], server.io);
    try {
      for (let i = 0; i < 100 && !server.stderr().includes('listening on'); i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(server.stderr()).toContain(`listening on http://127.0.0.1:${port}`);
      const catalog = await lade(home.path, ['catalog', `127.0.0.1:${port}`]);
      expect(catalog).toMatchObject({ code: 0, stdout: '' });
    } finally {
      controller.abort();
      expect(await serving).toBe(0);
      await home.cleanup();
    }
  });

  it('refuses a bad --addr with a usage error', async () => {
    const r = await lade('/nonexistent', ['serve', '--addr', 'nonsense']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('is not HOST:PORT');
  });
});

describe('system df, fsck and prune', () => {
  it('reports the store in docker df columns, checks it, and finds damage', async () => {
    const home = await tempDir('lade-cli-home-');
    const store = join(home.path, 'store');
    const run = (args: string[], stdin?: string) =>
      lade(home.path, args, { env: { LADE_HOME: store }, ...(stdin !== undefined ? { stdin } : {}) });
    try {
      await run(['load', '-q', '-i', join(fixturesDir, 'ggcr/test_bundle.tar')]);
      const df = await run(['system', 'df']);
      expect(df.code).toBe(0);
      const lines = df.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
      expect(lines[1]).toMatch(/^Images\s+2\s+0\s+[\d.]+kB\s+[\d.]+kB \(100%\)$/);
      expect(lines.slice(2).map((l) => l.split(/\s{2,}/)[0])).toEqual(['Containers', 'Local Volumes', 'Build Cache']);
      const verbose = await run(['system', 'df', '-v']);
      expect(verbose.stdout).toMatch(
        /REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS/,
      );
      const ok = await run(['system', 'fsck']);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toMatch(/^Checked \d+ blobs \([\d.]+kB\) in .*\nStore is consistent\n$/);
      // Corrupt one layer: fsck names it and exits 1.
      const index = JSON.parse(await readFile(join(store, 'index.json'), 'utf8'));
      const manifest = JSON.parse(
        await readFile(join(store, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'),
      );
      const layer = manifest.layers[0].digest.slice(7) as string;
      const path = join(store, 'blobs/sha256', layer);
      await chmod(path, 0o644);
      await writeFile(path, 'garbage');
      const bad = await run(['system', 'fsck']);
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain(`corrupt: sha256:${layer}`);
      expect(bad.stderr).toMatch(/^Error: store .* failed the check\n$/);
      const cancelled = await run(['system', 'prune']);
      expect(cancelled.code).toBe(0);
      expect(cancelled.stdout).toMatch(/Are you sure you want to continue\? \[y\/N\] $/);
      const pruned = await run(['system', 'prune', '-a', '-f']);
      expect(pruned.code).toBe(0);
      expect(pruned.stdout).toMatch(/Total reclaimed space: [\d.]+kB\n$/);
      expect((await run(['images', '-q'])).stdout).toBe('');
    } finally {
      await home.cleanup();
    }
  });
});
