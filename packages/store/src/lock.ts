import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { AbortedError, LockTimeoutError } from './errors.js';

/** Options of {@link acquireLock}. */
export interface LockOptions {
  /** Give up after this long (default 60 s) with a `LOCKED` error. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Why the lock is taken, recorded in the lock file for whoever waits. */
  readonly purpose?: string;
}

/** A held lock; release it in a `finally`. */
export interface LockHandle {
  readonly path: string;
  release(): Promise<void>;
}

/** What a lock file records about its holder. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  readonly purpose?: string;
  readonly token: string;
}

// Within one process, holders of the same lock path queue here first (the file lock alone cannot tell them apart).
const inProcess = new Map<string, Promise<void>>();

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !isErrno(err, 'ESRCH');
  }
}

async function readOwner(path: string): Promise<{ owner?: LockOwner; raw: string } | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const v = JSON.parse(raw) as Partial<LockOwner>;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.token === 'string')
      return { owner: v as LockOwner, raw };
  } catch {
    // unreadable: judged by age below
  }
  return { raw };
}

/** True when the lock's holder is certainly gone: a dead process on this host, or an unreadable file older than a minute. */
async function isStale(path: string, found: { owner?: LockOwner; raw: string }): Promise<boolean> {
  if (found.owner) return found.owner.host === hostname() && !pidAlive(found.owner.pid);
  const s = await stat(path).catch(() => undefined);
  return s !== undefined && Date.now() - s.mtimeMs > 60_000;
}

async function breakStale(path: string, raw: string): Promise<boolean> {
  // One breaker at a time, so two waiters cannot both judge the old file stale and one delete the other's fresh lock.
  const guard = `${path}.break`;
  try {
    await mkdir(guard);
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
    const s = await stat(guard).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > 10_000) await rmdir(guard).catch(() => {});
    return false;
  }
  try {
    const again = await readOwner(path);
    if (again && again.raw === raw) {
      await unlink(path).catch(() => {});
      return true;
    }
    return false;
  } finally {
    await rmdir(guard).catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function acquireFile(path: string, options: LockOptions): Promise<LockHandle> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const token = randomBytes(8).toString('hex');
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    token,
    ...(options.purpose ? { purpose: options.purpose } : {}),
  };
  const temp = `${path}.${process.pid}.${token}`;
  await writeFile(temp, `${JSON.stringify(owner)}\n`);
  try {
    let wait = 5;
    for (;;) {
      if (options.signal?.aborted)
        throw new AbortedError(`waiting for lock ${path} was aborted`, { cause: options.signal.reason });
      try {
        // link() creates the lock atomically with its content: nobody ever sees an empty lock file.
        await link(temp, path);
        break;
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      const found = await readOwner(path);
      // Retry at once after breaking a stale lock; otherwise (someone else is breaking it) wait like any waiter.
      if (found && (await isStale(path, found)) && (await breakStale(path, found.raw))) continue;
      if (Date.now() >= deadline) {
        const who = found?.owner
          ? `process ${found.owner.pid} on ${found.owner.host}${found.owner.purpose ? ` (${found.owner.purpose})` : ''}`
          : 'another process';
        throw new LockTimeoutError(
          `${path} is held by ${who}; wait for it to finish, or remove the file if that process no longer exists`,
          { detail: found?.owner },
        );
      }
      await sleep(wait + Math.random() * wait);
      wait = Math.min(wait * 2, 100);
    }
  } finally {
    await unlink(temp).catch(() => {});
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      const found = await readOwner(path);
      if (found?.owner?.token === token) await unlink(path).catch(() => {});
    },
  };
}

/**
 * Takes an exclusive lock shared by every process on this machine: a file holding the owner's pid,
 * created atomically, and broken when its owner died (stale detection). Waiters poll with backoff.
 *
 * @example
 * const lock = await acquireLock(join(root, 'index.json.lock'));
 * try { … } finally { await lock.release(); }
 */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<LockHandle> {
  const previous = inProcess.get(path) ?? Promise.resolve();
  let releaseQueue!: () => void;
  const mine = new Promise<void>((r) => {
    releaseQueue = r;
  });
  const tail = previous.then(() => mine);
  inProcess.set(path, tail);
  const cleanup = (): void => {
    releaseQueue();
    if (inProcess.get(path) === tail) inProcess.delete(path);
  };
  try {
    const started = Date.now();
    await waitTurn(previous, path, options);
    const timeoutMs =
      options.timeoutMs === undefined ? undefined : Math.max(0, options.timeoutMs - (Date.now() - started));
    const handle = await acquireFile(path, timeoutMs === undefined ? options : { ...options, timeoutMs });
    return {
      path,
      async release() {
        try {
          await handle.release();
        } finally {
          cleanup();
        }
      },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Waits for the in-process holders ahead of us, within the timeout and until the signal fires. */
function waitTurn(previous: Promise<void>, path: string, options: LockOptions): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      reject(
        new LockTimeoutError(
          `${path} is held by another task of this process (pid ${process.pid}) for over ${timeoutMs} ms; wait for it to finish`,
        ),
      );
    }, timeoutMs);
    const onAbort = (): void => {
      done();
      reject(new AbortedError(`waiting for lock ${path} was aborted`, { cause: options.signal?.reason }));
    };
    const done = (): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    previous.then(() => {
      done();
      resolve();
    });
  });
}

/** True when a lock file exists at `path` and its holder is certainly gone (what the next locker would break). */
export async function isStaleLock(path: string): Promise<boolean> {
  const found = await readOwner(path);
  return found !== undefined && (await isStale(path, found));
}

/** Runs `fn` while holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
