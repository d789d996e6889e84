import { hash } from '@lade/digest';
import { peersAvailable } from '@lade/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from '../../src/index.js';
import { type OwnRegistry, startOwnRegistry } from './own-registry.js';

describe.runIf(peersAvailable('docker-registry'))('a registry restarting in the middle of a chunked upload', () => {
  let reg: OwnRegistry;

  beforeAll(async () => {
    reg = await startOwnRegistry();
  });
  afterAll(async () => {
    await reg?.destroy();
  });

  it('retries the chunk until the registry is back and completes the blob', async () => {
    const chunk = 256 * 1024;
    const bytes = new Uint8Array(4 * chunk + 1000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 255;
    const descriptor = { digest: hash(bytes), size: bytes.byteLength };
    let offset = 0;
    let restarted: Promise<void> | undefined;
    // The source stops the registry once the first two chunks are in, and starts it again 700 ms later.
    const content = new ReadableStream<Uint8Array>({
      async pull(c) {
        if (offset === 2 * chunk && !restarted) {
          await reg.stop();
          restarted = new Promise((ok) => setTimeout(ok, 700)).then(() => reg.start());
        }
        const end = Math.min(bytes.length, offset + 64 * 1024);
        c.enqueue(bytes.slice(offset, end));
        offset = end;
        if (offset >= bytes.length) c.close();
      },
    });
    const r = new Registry(reg.host, {
      credentials: null,
      chunkSize: chunk,
      retry: { minDelayMs: 100, maxDelayMs: 1000, retries: 6 },
    });
    const outcome = await r.uploadBlob('restart/blob', descriptor, content);
    await restarted;
    expect(outcome).toBe('uploaded');
    expect(await r.headBlob('restart/blob', descriptor.digest)).toBe(bytes.byteLength);
    const back = new Uint8Array(
      await new Response(await r.openBlob('restart/blob', descriptor, { verify: true })).arrayBuffer(),
    );
    await r.close();
    expect(hash(back)).toBe(descriptor.digest);
  });
});
