import { describe, expect, it } from 'vitest';
import { applyChanges, expandVariables, ignored, parseDockerignore } from '../src/commands/build.js';

describe('Dockerfile variable expansion', () => {
  const vars = new Map([
    ['A', 'one'],
    ['EMPTY', ''],
  ]);
  it.each([
    ['$A', 'one'],
    ['${A}', 'one'],
    ['x${A}y', 'xoney'],
    ['$MISSING', ''],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${A:-fallback}', 'one'],
    ['${A:+alt}', 'alt'],
    ['${MISSING:+alt}', ''],
    ['\\$A', '$A'],
    ['$A/$A', 'one/one'],
  ])('expands %s to %s', (input, output) => {
    expect(expandVariables(input, vars)).toBe(output);
  });
});

describe('.dockerignore', () => {
  const rules = parseDockerignore('# comment\n\n*.log\n/build\n**/secret*\n!keep.log\ndocs/*.md\n!docs/README.md\n');
  it.each([
    ['app.log', true],
    ['keep.log', false],
    ['sub/app.log', false],
    ['build', true],
    ['build/out/bin', true],
    ['src/deep/secret.key', true],
    ['secret.txt', true],
    ['docs/a.md', true],
    ['docs/README.md', false],
    ['docs/sub/a.md', false],
    ['src/main.ts', false],
  ])('%s excluded: %s', (path, excluded) => {
    expect(ignored(rules, path)).toBe(excluded);
  });
});

describe('commit and import changes (-c)', () => {
  it('applies CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR and STOPSIGNAL', async () => {
    const c = await applyChanges({ Env: ['PATH=/bin'], Cmd: ['old'] }, [
      'CMD ["sh", "-c", "echo hi"]',
      'ENV K=V',
      'ENV PATH=/usr/bin:$PATH',
      'EXPOSE 80',
      'LABEL a=b',
      'USER nobody',
      'VOLUME /data',
      'WORKDIR /srv',
      'STOPSIGNAL SIGINT',
      'ENTRYPOINT ["/init"]',
    ]);
    expect(c).toEqual({
      Env: ['K=V', 'PATH=/usr/bin:/bin'],
      Cmd: ['sh', '-c', 'echo hi'],
      ExposedPorts: { '80/tcp': {} },
      Labels: { a: 'b' },
      User: 'nobody',
      Volumes: { '/data': {} },
      WorkingDir: '/srv',
      StopSignal: 'SIGINT',
      Entrypoint: ['/init'],
    });
  });

  it('refuses RUN and other instructions with a usage error', async () => {
    await expect(applyChanges({}, ['RUN echo'])).rejects.toThrow(/RUN is not a supported change/);
    await expect(applyChanges({}, ['FROM x'])).rejects.toThrow(/not a supported change/);
  });
});
