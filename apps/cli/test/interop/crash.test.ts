import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  type PeerRegistry,
  peerFixtures,
  peersAvailable,
  pushPeerFixtures,
  startRegistry,
  tempDir,
} from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ladeBin, ladeProcess, nodeBin } from '../helpers.js';

/** Starts the built `lade` and SIGKILLs it after `ms` (or lets it finish first); resolves with how it ended. */
function runAndKill(
  args: string[],
  env: NodeJS.ProcessEnv,
  ms: number,
): Promise<{ killed: boolean; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [ladeBin, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stderr });
    });
  });
}

describe.runIf(peersAvailable('skopeo', 'docker-registry'))('lade pull killed with SIGKILL at random points', () => {
  let registry: PeerRegistry;
  let home: { path: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    home = await tempDir('lade-cli-crash-');
    registry = await startRegistry();
    await pushPeerFixtures(await peerFixtures({ big: 8 }), registry.host, ['big']);
  });
  afterAll(async () => {
    await registry?.stop();
    await home?.cleanup();
  });

  it('stops on Ctrl-C with exit code 130 and leaves no garbage behind', async () => {
    const env = { HOME: home.path, PATH: process.env.PATH ?? '', LADE_HOME: join(home.path, 'interrupted') };
    const child = spawn(nodeBin, [ladeBin, 'pull', `${registry.host}/fixtures/big`], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // Interrupt once the first layer is on its way.
      if (!sent && out.includes('Pulling fs layer') && child.pid !== undefined) {
        sent = true;
        process.kill(child.pid, 'SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    if (out.includes('Status: Downloaded newer image')) return; // finished before the signal landed: nothing to check
    expect(code).toBe(130);
    const fsck = await ladeProcess(home.path, ['system', 'fsck', '--json'], { env });
    expect(fsck.code).toBe(0);
    const report = JSON.parse(fsck.stdout);
    expect(report.ok).toBe(true);
    expect(report.garbage.filter((g: { reason: string }) => g.reason !== 'stale-lease')).toEqual([]);
  });

  it('leaves a store that fsck finds consistent every time, and a rerun completes', async () => {
    const env = { HOME: home.path, PATH: process.env.PATH ?? '', LADE_HOME: join(home.path, 'store') };
    const image = `${registry.host}/fixtures/big:latest`;
    // Kill points spread over the time one whole pull takes here (process start included), so every stage is hit.
    const started = performance.now();
    expect((await ladeProcess(home.path, ['pull', image], { env })).code).toBe(0);
    const whole = performance.now() - started;
    expect((await ladeProcess(home.path, ['rmi', image], { env })).code).toBe(0);
    let killed = 0;
    for (let i = 0; i < 20; i++) {
      const r = await runAndKill(['pull', image], env, 30 + Math.floor(Math.random() * whole));
      if (r.killed) killed++;
      else expect(r.code, `pull ended on its own, so it must have succeeded: ${r.stderr}`).toBe(0);
      const fsck = await ladeProcess(home.path, ['system', 'fsck'], { env });
      expect(fsck.stderr).toBe('');
      expect(fsck.code).toBe(0);
      expect(fsck.stdout).toContain('Store is consistent');
      // Start the next round from nothing when this pull finished, so every round has something to interrupt.
      if (!r.killed) expect((await ladeProcess(home.path, ['rmi', image], { env })).code).toBe(0);
      if (i % 5 === 4) expect((await ladeProcess(home.path, ['system', 'prune', '-f'], { env })).code).toBe(0);
    }
    expect(killed).toBeGreaterThan(0);
    const rerun = await ladeProcess(home.path, ['pull', image], { env });
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toMatch(/Status: (Downloaded newer image|Image is up to date) for /);
    const listed = await ladeProcess(home.path, ['images', '--format', '{{.Repository}}:{{.Tag}}'], { env });
    expect(listed.stdout).toBe(`${image}\n`);
    const finalFsck = await ladeProcess(home.path, ['system', 'fsck'], { env });
    expect(finalFsck.code).toBe(0);
  }, 300_000);
});
