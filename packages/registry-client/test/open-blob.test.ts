// Registry.openBlob against a stub registry that stalls a body mid-transfer (a fault a real registry does not produce).
import { createServer, type ServerResponse } from 'node:http';
import { hash } from '@lade/digest';
import { ownsChunks } from '@lade/manifest';
import { onDeno } from '@lade/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../src/index.js';
import { listenLocal } from './local-server.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

describe('Registry.openBlob', () => {
  it('does not reconnect when its stream is cancelled while a read waits on a stalled body', async () => {
    const blob = new Uint8Array(4 * 1024 * 1024).map((_, i) => (i * 7) % 256);
    const digest = hash(blob);
    let blobGets = 0;
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      if (req.url === '/v2/') return void res.end('{}');
      blobGets++;
      res.writeHead(200, { 'content-length': blob.byteLength, 'docker-content-digest': digest });
      res.write(blob.subarray(0, 1024 * 1024 + 100)); // then nothing: the body stalls
      held.push(res);
    });
    const served = await listenLocal(server);
    closers.push(() => served.close());
    const host = served.host;
    const registry = new Registry(host, { credentials: null, scheme: 'http' });
    closers.push(() => registry.close());
    const stream = await registry.openBlob('app', { digest, size: blob.byteLength });
    // Node: lade's socket reader hands its chunks over; Deno: fetch's body does not.
    expect(ownsChunks(stream)).toBe(!onDeno);
    const reader = stream.getReader();
    let got = 0;
    while (got < 1024 * 1024) got += (await reader.read()).value!.byteLength;
    const waiting = reader.read(); // waits: the server sends nothing more
    await new Promise((ok) => setTimeout(ok, 50));
    await reader.cancel(new Error('not needed'));
    expect((await waiting).done).toBe(true);
    await new Promise((ok) => setTimeout(ok, 200));
    expect(blobGets).toBe(1);
  });
});
