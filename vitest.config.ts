import { defineConfig } from 'vitest/config';

// One run over every package and app, so CI gets one summary line.
export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    pool: 'forks',
  },
});
