import { join } from 'node:path';
import { repoRoot, run } from '@lade/test-support';
import { bufferedIo, runCli } from '../src/index.js';

/** What a lade run printed and returned. */
export interface LadeResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutBytes: Uint8Array;
}

/** Options of a lade run. */
export interface LadeOptions {
  readonly env?: Record<string, string>;
  readonly stdin?: string | Uint8Array;
  readonly stdinIsTTY?: boolean;
  readonly stdoutIsTTY?: boolean;
}

/** Runs lade in-process with `home` as HOME (so ~/.docker and ~/.local/share/lade are the test's own). */
export async function lade(home: string, args: string[], options: LadeOptions = {}): Promise<LadeResult> {
  const b = bufferedIo({
    env: { HOME: home, PATH: process.env.PATH ?? '', ...options.env },
    ...(options.stdin !== undefined ? { stdin: options.stdin } : {}),
    stdinIsTTY: options.stdinIsTTY ?? false,
    stdoutIsTTY: options.stdoutIsTTY ?? false,
  });
  const code = await runCli(args, b.io);
  return { code, stdout: b.stdout(), stderr: b.stderr(), stdoutBytes: b.stdoutBytes() };
}

/** The built binary. */
export const ladeBin: string = join(repoRoot, 'apps/cli/dist/main.js');

/** The Node binary that runs the built `lade` (under Deno's test run too, where `process.execPath` is deno). */
export const nodeBin: string = (process.versions as { deno?: string }).deno ? 'node' : process.execPath;

/** Runs the built `lade` binary as a child process. */
export function ladeProcess(
  home: string,
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
) {
  return run(nodeBin, [ladeBin, ...args], {
    env: { HOME: home, PATH: process.env.PATH ?? '', ...options.env },
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
}
