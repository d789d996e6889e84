import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { run, tempDir } from '@lade/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock, withLock } from '../src/index.js';
import { tsNode } from './helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function dir(): Promise<string> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  return t.path;
}

describe('acquireLock', () => {
  it('serialises holders in one process', async () => {
    const d = await dir();
    const lockPath = join(d, 'index.json.lock');
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withLock(lockPath, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 2));
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(await readdir(d)).toEqual([]);
  });

  it('records the holder pid in the lock file and removes it on release', async () => {
    const d = await dir();
    const lock = await acquireLock(join(d, 'x.lock'), { purpose: 'testing' });
    const owner = JSON.parse(await readFile(join(d, 'x.lock'), 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, host: hostname(), purpose: 'testing' });
    await lock.release();
    expect(await readdir(d)).toEqual([]);
  });

  it('breaks a stale lock left by a dead process', async () => {
    const d = await dir();
    const dead = await run('sh', ['-c', 'echo $$']);
    const pid = Number(dead.stdout.trim());
    await writeFile(
      join(d, 'x.lock'),
      JSON.stringify({ pid, host: hostname(), since: new Date().toISOString(), token: 'dead' }),
    );
    const started = Date.now();
    const lock = await acquireLock(join(d, 'x.lock'), { timeoutMs: 5_000 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(JSON.parse(await readFile(join(d, 'x.lock'), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('times out with LOCKED naming the live holder', async () => {
    const d = await dir();
    const child = spawn('sleep', ['30']);
    cleanups.push(async () => {
      child.kill('SIGKILL');
    });
    await writeFile(
      join(d, 'x.lock'),
      JSON.stringify({
        pid: child.pid,
        host: hostname(),
        since: new Date().toISOString(),
        token: 'live',
        purpose: 'pull',
      }),
    );
    const err = await acquireLock(join(d, 'x.lock'), { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'LOCKED' });
    expect((err as Error).message).toContain(`process ${child.pid}`);
    expect(JSON.parse(await readFile(join(d, 'x.lock'), 'utf8')).token).toBe('live');
  });

  it('a waiter gives up with ABORTED when its signal fires', async () => {
    const d = await dir();
    const held = await acquireLock(join(d, 'x.lock'));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(acquireLock(join(d, 'x.lock'), { signal: ac.signal, timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    await held.release();
  });

  it('a waiter queued behind a holder of the same process times out with LOCKED', async () => {
    const d = await dir();
    const held = await acquireLock(join(d, 'x.lock'));
    await expect(acquireLock(join(d, 'x.lock'), { timeoutMs: 100 })).rejects.toMatchObject({ code: 'LOCKED' });
    await held.release();
    const next = await acquireLock(join(d, 'x.lock'), { timeoutMs: 1_000 });
    await next.release();
  });

  it('coordinates several processes: no increment of a shared counter is lost', async () => {
    const d = await dir();
    const counter = join(d, 'counter');
    await writeFile(counter, '0');
    // Start from a lock left by a dead process: the children must agree on breaking it exactly once.
    const dead = Number((await run('sh', ['-c', 'echo $$'])).stdout.trim());
    await writeFile(
      join(d, 'index.json.lock'),
      JSON.stringify({ pid: dead, host: hostname(), since: '2020-01-01T00:00:00Z', token: 'dead' }),
    );
    const procs = 4;
    const times = 25;
    const results = await Promise.all(
      Array.from({ length: procs }, () =>
        run(tsNode[0]!, [
          ...tsNode.slice(1),
          join(import.meta.dirname, 'lock-child.ts'),
          join(d, 'index.json.lock'),
          counter,
          String(times),
        ]),
      ),
    );
    for (const r of results) expect(r.stderr).toBe('');
    expect(results.map((r) => r.code)).toEqual(Array(procs).fill(0));
    expect(Number(await readFile(counter, 'utf8'))).toBe(procs * times);
    expect((await readdir(d)).sort()).toEqual(['counter']);
  });
});
