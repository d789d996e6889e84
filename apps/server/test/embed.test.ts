import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createRegistry, type Registry } from '../src/index.js';
import { call, pushImage } from './helpers.js';

describe('embedding', () => {
  it("mounts in a Hono app next to the app's own routes (README example)", async () => {
    const registry = createRegistry();
    const app = new Hono();
    app.get('/', (c) => c.text('my service'));
    app.all('/v2/*', (c) => registry.fetch(c.req.raw));
    const viaHono: Registry = { ...registry, fetch: async (req) => app.fetch(req) };
    const image = await pushImage(viaHono, 'hono/app', 'v1');
    expect((await call(viaHono, 'GET', '/v2/hono/app/manifests/v1')).text).toBe(image.manifest);
    expect(await (await app.fetch(new Request('http://x/'))).text()).toBe('my service');
  });
});
