import type { CliOutput } from './io.js';

/** Bytes moved so far of a known (or unknown, `total <= 0`) amount, as docker's JSONProgress. */
export interface ByteProgress {
  readonly current: number;
  readonly total: number;
  /** When the transfer started (ms since the epoch), for the time-left estimate. */
  readonly start?: number;
}

/** Formats a byte count as docker does (`units.HumanSize`: `12.3MB`). */
export type SizeFormatter = (bytes: number) => string;

/** Go's `time.Duration.String()` for a whole number of seconds: `0s`, `42s`, `1m2s`, `1h0m5s`. */
export function goDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${m}m${r}s`;
  if (m > 0) return `${m}m${r}s`;
  return `${r}s`;
}

/**
 * docker's progress text for a byte count: `[=====>      ]  12.3MB/45.6MB 3s`. The bar is drawn only on
 * terminals wider than 110 columns and the time left on those wider than 50, as jsonmessage does.
 */
export function progressText(p: ByteProgress, humanSize: SizeFormatter, width = 200, now = Date.now()): string {
  if (p.current <= 0 && p.total <= 0) return '';
  if (p.total <= 0) return humanSize(p.current).padStart(8);
  const percentage = Math.min(50, Math.floor(Math.floor((p.current / p.total) * 100) / 2));
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] `;
  let numbers = `${humanSize(p.current).padStart(8)}/${humanSize(p.total)}`;
  if (p.current > p.total) numbers = humanSize(p.current).padStart(8);
  let left = '';
  if (p.current > 0 && p.start !== undefined && p.start > 0 && percentage < 50 && width > 50) {
    const elapsed = (now - p.start) / 1000;
    left = ` ${goDuration(((p.total - p.current) * elapsed) / p.current)}`;
  }
  return bar + numbers + left;
}

/**
 * Writes docker's pull/push status stream: plain messages (`latest: Pulling from library/alpine`) and
 * per-layer lines (`a1b2c3d4e5f6: Downloading [==>   ] 1.2MB/3.4MB`). On a terminal each layer keeps its
 * line and is redrawn in place (cursor up, clear line, cursor down) exactly as docker's jsonmessage does;
 * otherwise every status change is a plain line and byte counts are not printed.
 */
export class ProgressWriter {
  readonly #out: CliOutput;
  readonly #humanSize: SizeFormatter;
  #ids = new Map<string, number>();
  #lastDraw = new Map<string, number>();
  #chain: Promise<void> = Promise.resolve();

  constructor(out: CliOutput, humanSize: SizeFormatter) {
    this.#out = out;
    this.#humanSize = humanSize;
  }

  /** A line without a layer id; it ends the current block of layer lines. */
  message(text: string): Promise<void> {
    return this.#enqueue(async () => {
      this.#ids = new Map();
      this.#lastDraw = new Map();
      await this.#out.write(`${text}\n`);
    });
  }

  /**
   * A layer's status, optionally with byte progress. Byte progress is redrawn at most every 100 ms per layer
   * (always when it reaches the total).
   */
  update(id: string, action: string, progress?: ByteProgress): Promise<void> {
    const withBytes = progress !== undefined && (progress.current > 0 || progress.total > 0);
    if (withBytes) {
      if (!this.#out.isTTY) return this.#chain;
      const now = Date.now();
      const last = this.#lastDraw.get(id) ?? 0;
      if (now - last < 100 && progress.current < progress.total) return this.#chain;
      this.#lastDraw.set(id, now);
    } else {
      this.#lastDraw.delete(id);
    }
    return this.#enqueue(async () => {
      if (!this.#out.isTTY) {
        await this.#out.write(`${id}: ${action}\n`);
        return;
      }
      let text = '';
      let line = this.#ids.get(id);
      if (line === undefined) {
        line = this.#ids.size;
        this.#ids.set(id, line);
        text += '\n';
      }
      const diff = this.#ids.size - line;
      const bytes = withBytes ? progressText(progress, this.#humanSize, this.#out.columns ?? 200) : '';
      text += `\x1b[${diff}A\x1b[2K\r${id}: ${action} ${bytes}\r\x1b[${diff}B`;
      await this.#out.write(text);
    });
  }

  /** Resolves when everything queued has been written. */
  flush(): Promise<void> {
    return this.#chain;
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    this.#chain = this.#chain.then(task);
    return this.#chain;
  }
}
