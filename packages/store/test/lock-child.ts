// Child process of lock.test.ts: increments a counter file N times, each read-modify-write under the store lock.
import { readFile, writeFile } from 'node:fs/promises';
import { acquireLock } from '../src/lock.js';

const [lockPath, counterPath, times] = process.argv.slice(2);
for (let i = 0; i < Number(times); i++) {
  const lock = await acquireLock(lockPath!, { timeoutMs: 60_000 });
  try {
    const n = Number(await readFile(counterPath!, 'utf8'));
    await new Promise((r) => setTimeout(r, Math.random() * 3));
    await writeFile(counterPath!, String(n + 1));
  } finally {
    await lock.release();
  }
}
