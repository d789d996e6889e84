import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['lade-source'] },
  ssr: { resolve: { conditions: ['lade-source'] } },
  test: { name: 'archive', include: ['test/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 120_000 },
});
