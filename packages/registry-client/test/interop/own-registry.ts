// A docker-registry process this test owns (its own config with a fixed http.secret, so upload sessions survive a
// restart), which a test can stop and start again on the same port and storage.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, tempDir } from '@lade/test-support';

export interface OwnRegistry {
  readonly host: string;
  /** Stops the process (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage, resolving once `/v2/` answers. */
  start(): Promise<void>;
  /** Stops it and removes its storage. */
  destroy(): Promise<void>;
}

export async function startOwnRegistry(extraConfig: string[] = []): Promise<OwnRegistry> {
  const dir = await tempDir('lade-own-registry-');
  const port = await freePort();
  const config = join(dir.path, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: {level: error, accesslog: {disabled: true}}',
      `storage: {filesystem: {rootdirectory: ${join(dir.path, 'data')}}, delete: {enabled: true}, maintenance: {uploadpurging: {enabled: false}}}`,
      `http: {addr: 127.0.0.1:${port}, secret: lade-test-secret}`,
      ...extraConfig,
      '',
    ].join('\n'),
  );
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/v2/`);
        await r.arrayBuffer();
        return;
      } catch {
        if (i > 100) throw new Error('registry did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((ok) => {
      c.once('exit', () => ok());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    host: `127.0.0.1:${port}`,
    start,
    stop,
    async destroy() {
      await stop();
      await dir.cleanup();
    },
  };
}
