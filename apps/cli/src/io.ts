import { once } from 'node:events';
import { Readable } from 'node:stream';

/** Where the CLI writes: stdout or stderr, a terminal or not. */
export interface CliOutput {
  /** True when this is a terminal: progress is redrawn in place, binary output is refused. */
  readonly isTTY: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
  /** Writes text or bytes; resolves when the stream can take more (backpressure). */
  write(chunk: string | Uint8Array): Promise<void>;
}

/** Where the CLI reads: stdin. */
export interface CliInput {
  readonly isTTY: boolean;
  /** The input as a web stream (opened once, on first use). */
  stream(): ReadableStream<Uint8Array>;
  /** Turns terminal echo off (raw mode) while a secret is typed; absent when stdin is not a terminal. */
  setRawMode?(raw: boolean): void;
}

/** Everything `runCli` touches outside the process' own state: streams, environment, cancellation. */
export interface CliIo {
  readonly stdin: CliInput;
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborts running transfers (Ctrl-C). */
  readonly signal?: AbortSignal;
}

function nodeOutput(stream: NodeJS.WriteStream): CliOutput {
  return {
    get isTTY() {
      return stream.isTTY === true;
    },
    get columns() {
      return stream.isTTY ? stream.columns : undefined;
    },
    async write(chunk) {
      if (!stream.write(chunk)) await once(stream, 'drain');
    },
  } as CliOutput;
}

/** The process' own stdin, stdout, stderr and environment. */
export function nodeIo(signal?: AbortSignal): CliIo {
  let opened: ReadableStream<Uint8Array> | undefined;
  return {
    stdin: {
      isTTY: process.stdin.isTTY === true,
      stream() {
        opened ??= Readable.toWeb(process.stdin) as unknown as ReadableStream<Uint8Array>;
        return opened;
      },
      ...(process.stdin.isTTY ? { setRawMode: (raw: boolean) => void process.stdin.setRawMode(raw) } : {}),
    },
    stdout: nodeOutput(process.stdout),
    stderr: nodeOutput(process.stderr),
    env: process.env,
    ...(signal ? { signal } : {}),
  };
}

/** An in-memory `CliIo` for tests and embedding: captured stdout/stderr, a given stdin. */
export interface BufferedIo {
  readonly io: CliIo;
  /** stdout decoded as UTF-8. */
  stdout(): string;
  /** stdout's raw bytes. */
  stdoutBytes(): Uint8Array;
  /** stderr decoded as UTF-8. */
  stderr(): string;
}

/** Options of `bufferedIo`. */
export interface BufferedIoOptions {
  readonly stdin?: string | Uint8Array | ReadableStream<Uint8Array>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly stdinIsTTY?: boolean;
  readonly stdoutIsTTY?: boolean;
  readonly stderrIsTTY?: boolean;
  readonly columns?: number;
  readonly signal?: AbortSignal;
}

/** A `CliIo` whose output is kept in memory. */
export function bufferedIo(options: BufferedIoOptions = {}): BufferedIo {
  const encoder = new TextEncoder();
  const sink = (isTTY: boolean) => {
    const chunks: Uint8Array[] = [];
    const out: CliOutput = {
      isTTY,
      ...(isTTY ? { columns: options.columns ?? 200 } : {}),
      async write(chunk) {
        chunks.push(typeof chunk === 'string' ? encoder.encode(chunk) : chunk.slice());
      },
    };
    const bytes = () => {
      const total = chunks.reduce((n, c) => n + c.length, 0);
      const all = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        all.set(c, at);
        at += c.length;
      }
      return all;
    };
    return { out, bytes };
  };
  const stdout = sink(options.stdoutIsTTY ?? false);
  const stderr = sink(options.stderrIsTTY ?? false);
  const input = options.stdin;
  const io: CliIo = {
    stdin: {
      isTTY: options.stdinIsTTY ?? false,
      stream() {
        if (input instanceof ReadableStream) return input;
        const bytes = typeof input === 'string' ? encoder.encode(input) : (input ?? new Uint8Array());
        return new ReadableStream<Uint8Array>({
          start(controller) {
            if (bytes.length > 0) controller.enqueue(bytes);
            controller.close();
          },
        });
      },
    },
    stdout: stdout.out,
    stderr: stderr.out,
    env: options.env ?? {},
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const decoder = new TextDecoder();
  return {
    io,
    stdout: () => decoder.decode(stdout.bytes()),
    stdoutBytes: () => stdout.bytes(),
    stderr: () => decoder.decode(stderr.bytes()),
  };
}

// One reader per input, with the bytes read past the last line, so successive prompts (username, then password)
// see everything that was typed or piped.
interface LineReader {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly decoder: TextDecoder;
  pending: string;
  done: boolean;
}
const lineReaders = new WeakMap<CliInput, LineReader>();

function lineReader(input: CliInput): LineReader {
  let r = lineReaders.get(input);
  if (!r) {
    r = { reader: input.stream().getReader(), decoder: new TextDecoder(), pending: '', done: false };
    lineReaders.set(input, r);
  }
  return r;
}

async function more(r: LineReader): Promise<boolean> {
  if (r.done) return false;
  const { value, done } = await r.reader.read();
  if (done) {
    r.pending += r.decoder.decode();
    r.done = true;
    return false;
  }
  r.pending += r.decoder.decode(value, { stream: true });
  return true;
}

/** Reads stdin up to the next newline (or the end), without the line ending. Undefined at end of input. */
export async function readLine(input: CliInput): Promise<string | undefined> {
  const r = lineReader(input);
  for (;;) {
    const nl = r.pending.indexOf('\n');
    if (nl >= 0) {
      const line = r.pending.slice(0, nl).replace(/\r$/, '');
      r.pending = r.pending.slice(nl + 1);
      return line;
    }
    if (!(await more(r))) {
      if (r.pending === '') return undefined;
      const line = r.pending;
      r.pending = '';
      return line;
    }
  }
}

/** Reads the rest of stdin as text. */
export async function readAll(input: CliInput): Promise<string> {
  const r = lineReader(input);
  while (await more(r)) {
    // keep reading
  }
  const text = r.pending;
  r.pending = '';
  return text;
}

/** Reads a line with echo off when stdin is a terminal (a password prompt); the typed text is not shown. */
export async function readSecret(input: CliInput, output: CliOutput): Promise<string | undefined> {
  if (!input.setRawMode) return readLine(input);
  input.setRawMode(true);
  const r = lineReader(input);
  let text = '';
  try {
    for (;;) {
      if (r.pending === '' && !(await more(r))) return text === '' ? undefined : text;
      const chars = [...r.pending];
      r.pending = '';
      for (let i = 0; i < chars.length; i++) {
        const ch = chars[i] ?? '';
        if (ch === '\r' || ch === '\n') {
          r.pending = chars.slice(i + 1).join('');
          return text;
        }
        if (ch === '\u0003') throw new Error('interrupted');
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    }
  } finally {
    input.setRawMode(false);
    await output.write('\n');
  }
}
