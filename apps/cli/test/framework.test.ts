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

  it('prints the client version with lade version [--format]', async () => {
    const r = await lade(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Client:\n Version: +\d+\.\d+\.\d+\n Node\.js version: +v\d+/);
    expect((await lade(['version', '--format', '{{.Client.Version}}'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('prints help without a command and exits 0', async () => {
    const r = await lade([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage:  lade [OPTIONS] COMMAND\n');
    expect(r.stdout).toContain('\nManagement Commands:\n');
    expect(r.stdout).toContain('\n  image       Manage images\n');
    expect(r.stdout).toContain('\n  pull        Download an image from a registry\n');
  });

  it("rejects an unknown command with docker's wording and exit code 1", async () => {
    const r = await lade(['frobnicate']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("lade: unknown command: lade frobnicate\n\nRun 'lade --help' for more information\n");
  });

  it("rejects an unknown global flag with docker's wording and exit code 125", async () => {
    const r = await lade(['--frob']);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(
      "unknown flag: --frob\n\nUsage:  lade [OPTIONS] COMMAND [ARG...]\n\nRun 'lade --help' for more information\n",
    );
  });
});

describe('docker-style help', () => {
  it("prints a command's usage, aliases and flags as cobra does (sorted, wrapped at 79 columns, defaults)", async () => {
    const r = await lade(['pull', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'Usage:  lade pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nDownload an image from a registry\n\n' +
        'Aliases:\n  lade image pull, lade pull\n\nOptions:\n' +
        '  -a, --all-tags                Download all tagged images in the repository\n' +
        '      --disable-content-trust   Skip image verification (default true)\n' +
        '      --platform string         Set platform if server is multi-platform\n' +
        '                                capable\n' +
        '  -q, --quiet                   Suppress verbose output\n',
    );
  });

  it("prints a group's help on stdout and rejects an unknown subcommand", async () => {
    const r = await lade(['system']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Usage: {2}lade system COMMAND\n\nManage the local image store\n\nCommands:\n {2}df {10}Show disk usage/,
    );
    expect(r.stdout).toContain("\nRun 'lade system COMMAND --help' for more information on a command.\n");
    const bad = await lade(['system', 'frob']);
    expect(bad).toMatchObject({
      code: 1,
      stderr:
        "lade: unknown command: lade system frob\n\nUsage:  lade system\n\nRun 'lade system --help' for more information\n",
    });
  });

  it.each([
    [
      ['tag', 'a'],
      "lade: 'lade tag' requires 2 arguments\n\nUsage:  lade tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nRun 'lade tag --help' for more information\n",
    ],
    [
      ['rmi'],
      "lade: 'lade rmi' requires at least 1 argument\n\nUsage:  lade rmi [OPTIONS] IMAGE [IMAGE...]\n\nSee 'lade rmi --help' for more information\n",
    ],
    [
      ['load', 'x'],
      "lade: 'lade load' accepts no arguments\n\nUsage:  lade load [OPTIONS]\n\nRun 'lade load --help' for more information\n",
    ],
    [
      ['manifest', 'create', 'x'],
      "lade: 'lade manifest create' requires at least 2 arguments\n\nUsage:  lade manifest create MANIFEST_LIST MANIFEST [MANIFEST...]\n\nSee 'lade manifest create --help' for more information\n",
    ],
  ])('words the argument count error of %j as docker does', async (args, stderr) => {
    expect(await lade(args)).toMatchObject({ code: 1, stdout: '', stderr });
  });

  it('words flag errors as pflag does, exit 125', async () => {
    const r = await lade(['history', '-x']);
    expect(r).toMatchObject({
      code: 125,
      stderr:
        "unknown shorthand flag: 'x' in -x\n\nUsage:  lade history [OPTIONS] IMAGE\n\nRun 'lade history --help' for more information\n",
    });
    const m = await lade(['pull', '--platform']);
    expect(m.stderr.split('\n')[0]).toBe('flag needs an argument: --platform');
    expect(m.code).toBe(125);
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
