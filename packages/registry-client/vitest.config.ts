import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['lade-source'] },
  ssr: { resolve: { conditions: ['lade-source'] } },
  test: { name: 'registry-client', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 },
});
