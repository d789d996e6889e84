import { describe, expect, it } from 'vitest';
import { createContext, resolveGlobalOptions } from '../src/context.js';
import { bufferedIo } from '../src/index.js';
import { registryClient } from '../src/registry.js';

// Which registries lade may reach over plain http. Tests may only send traffic to loopback addresses, which are
// allowed http anyway, so the decision for other hosts is checked on the client lade builds, without a request.
describe('insecure registries', () => {
  const clientFor = (flags: { insecureRegistry?: string[] }, env: Record<string, string>) => {
    const io = bufferedIo({ env }).io;
    return registryClient(createContext(io, resolveGlobalOptions(flags, env)), null);
  };

  it('marks the hosts named by --insecure-registry and $LADE_INSECURE_REGISTRY, and only those', async () => {
    const client = clientFor(
      { insecureRegistry: ['registry.lan:5000'] },
      { HOME: '/nonexistent', LADE_INSECURE_REGISTRY: ' mirror.lan , 10.0.0.7:5000' },
    );
    try {
      expect(client.registry('registry.lan:5000').insecure).toBe(true);
      expect(client.registry('registry.lan:5001').insecure).toBe(false);
      expect(client.registry('mirror.lan:443').insecure).toBe(true);
      expect(client.registry('10.0.0.7:5000').insecure).toBe(true);
      expect(client.registry('registry.example.com').insecure).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('treats loopback registries as insecure without being told', async () => {
    const client = clientFor({}, { HOME: '/nonexistent' });
    try {
      expect(client.registry('127.0.0.1:5000').insecure).toBe(true);
      expect(client.registry('localhost:5000').insecure).toBe(true);
      expect(client.registry('registry.lan:5000').insecure).toBe(false);
    } finally {
      await client.close();
    }
  });

  it('refuses plain http to a host nobody marked insecure, before any request', async () => {
    const client = clientFor({}, { HOME: '/nonexistent' });
    try {
      expect(() => client.registry('registry.lan:5000', 'http')).toThrow(/refusing plain http to registry.lan:5000/);
    } finally {
      await client.close();
    }
  });
});
