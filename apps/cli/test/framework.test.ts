import { describe, expect, it } from 'vitest';
import { bufferedIo, runCli } from '../src/index.js';
import { goDuration, ProgressWriter, progressText } from '../src/progress.js';

async function lade(args: string[], env: Record<string, string> = {}) {
  const b = bufferedIo({ env: { HOME: '/nonexistent', ...env } });
  const code = await runCli(args, b.io);
  return { code, stdout: b.stdout(), stderr: b.stderr() };
}

describe('command line framework', () => {
  it('prints the version with --version and exits 0', async () => {
    const r = await lade(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^lade version \d+\.\d+\.\d+\n$/);
  });

  it('prints help without a command and exits 0', async () => {
    const r = await lade([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: lade [OPTIONS] COMMAND');
  });

  it("rejects an unknown command with docker's wording and exit code 1", async () => {
    const r = await lade(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("lade: 'frobnicate' is not a lade command.\nSee 'lade --help'\n");
  });

  it("rejects an unknown global flag with docker's wording and exit code 125", async () => {
    const r = await lade(['--frob']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe("unknown flag: --frob\nSee 'lade --help'.\n");
  });
});

describe('progress rendering', () => {
  const size = (n: number) => `${n}B`;

  it("draws docker's bar, counts and time left", () => {
    const now = 10_000;
    expect(progressText({ current: 50, total: 100, start: now - 5000 }, size, 200, now)).toBe(
      `[${'='.repeat(25)}>${' '.repeat(25)}]      50B/100B 5s`,
    );
    expect(progressText({ current: 50, total: 100 }, size, 80, now)).toBe('     50B/100B');
    expect(progressText({ current: 0, total: 0 }, size)).toBe('');
    expect(goDuration(62)).toBe('1m2s');
    expect(goDuration(3605)).toBe('1h0m5s');
  });

  it('writes plain status lines without byte counts when not a terminal', async () => {
    const b = bufferedIo();
    const p = new ProgressWriter(b.io.stdout, size);
    await p.message('latest: Pulling from library/x');
    await p.update('aaaaaaaaaaaa', 'Pulling fs layer');
    await p.update('aaaaaaaaaaaa', 'Downloading', { current: 5, total: 10 });
    await p.update('aaaaaaaaaaaa', 'Pull complete');
    await p.flush();
    expect(b.stdout()).toBe(
      'latest: Pulling from library/x\naaaaaaaaaaaa: Pulling fs layer\naaaaaaaaaaaa: Pull complete\n',
    );
  });

  it('redraws each layer on its own line on a terminal', async () => {
    const b = bufferedIo({ stdoutIsTTY: true, columns: 80 });
    const p = new ProgressWriter(b.io.stdout, size);
    await p.update('a', 'Waiting');
    await p.update('b', 'Waiting');
    await p.update('a', 'Downloading', { current: 10, total: 10 });
    await p.flush();
    expect(b.stdout()).toBe(
      '\n\x1b[1A\x1b[2K\ra: Waiting \r\x1b[1B' +
        '\n\x1b[1A\x1b[2K\rb: Waiting \r\x1b[1B' +
        '\x1b[2A\x1b[2K\ra: Downloading      10B/10B\r\x1b[2B',
    );
  });
});

import { formatImageLocation, parseImageLocation } from '../src/transport-name.js';

describe('transport names', () => {
  it.each([
    ['docker://127.0.0.1:5000/a/b:1', { transport: 'docker', reference: '127.0.0.1:5000/a/b:1' }],
    ['oci:/tmp/layout:tag', { transport: 'oci', path: '/tmp/layout', reference: 'tag' }],
    ['oci:/tmp/layout', { transport: 'oci', path: '/tmp/layout' }],
    ['oci-archive:x.tar:v1', { transport: 'oci-archive', path: 'x.tar', reference: 'v1' }],
    ['docker-archive:x.tar:app:1', { transport: 'docker-archive', path: 'x.tar', reference: 'app:1' }],
    ['lade:app:1', { transport: 'lade', reference: 'app:1' }],
    ['app:1', { transport: 'lade', reference: 'app:1' }],
    ['localhost:5000/app:1', { transport: 'lade', reference: 'localhost:5000/app:1' }],
  ])('parses %s', (text, expected) => {
    expect(parseImageLocation(text)).toEqual(expected);
    if (
      text.includes('//') ||
      text.startsWith('oci') ||
      text.startsWith('docker-archive') ||
      text.startsWith('lade:')
    ) {
      expect(formatImageLocation(parseImageLocation(text))).toBe(text);
    }
  });

  it.each(['docker:app', 'docker://', 'oci:', 'dir:/tmp/x', 'containers-storage:app'])(
    'rejects %s with a usage error',
    (text) => {
      expect(() => parseImageLocation(text)).toThrowError(/Invalid image name/);
    },
  );
});

import { indentJson } from '../src/output.js';

describe("Go's json.Indent", () => {
  it('keeps tokens verbatim, empty containers compact, and trailing whitespace', () => {
    expect(indentJson(' {"a":[1.0,{}],"b":"x\\"y","c":[]}\n', '\t')).toBe(
      '{\n\t"a": [\n\t\t1.0,\n\t\t{}\n\t],\n\t"b": "x\\"y",\n\t"c": []\n}\n',
    );
    expect(indentJson('[]', '  ')).toBe('[]');
  });
});
