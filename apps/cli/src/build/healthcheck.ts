/** HEALTHCHECK: Go durations, docker's HealthConfig, and the history text BuildKit writes for it. */

/** A container config's `Healthcheck` (durations in nanoseconds; zero fields left out, as Go's omitempty does). */
export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

const UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's `time.ParseDuration` (`1h30m`, `1.5s`, `300ms`, `0`), in nanoseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const re = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s !== '') {
    const m = re.exec(s);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return undefined;
    const unit = UNITS[m[3] as string] as number;
    const whole = m[1] === '' ? 0 : Number.parseInt(m[1] as string, 10);
    const frac = m[2] ? Number.parseInt(m[2], 10) / 10 ** m[2].length : 0;
    total += whole * unit + Math.round(frac * unit);
    s = s.slice(m[0].length);
  }
  return sign * total;
}

function fraction(value: number, digits: number): string {
  // value / 10^digits with trailing zeros trimmed, as Go's fmtFrac does.
  const whole = Math.floor(value / 10 ** digits);
  let frac = String(value % 10 ** digits).padStart(digits, '0');
  frac = frac.replace(/0+$/, '');
  return frac === '' ? String(whole) : `${whole}.${frac}`;
}

/** Go's `time.Duration.String()` for nanoseconds `d` (`0s`, `1.5ms`, `30s`, `5m0s`, `1h0m0s`). */
export function formatGoDuration(d: number): string {
  if (d === 0) return '0s';
  const neg = d < 0;
  const u = Math.abs(d);
  let out: string;
  if (u < 1e9) {
    if (u < 1e3) out = `${u}ns`;
    else if (u < 1e6) out = `${fraction(u, 3)}µs`;
    else out = `${fraction(u, 6)}ms`;
  } else {
    const h = Math.floor(u / 3600e9);
    const m = Math.floor((u % 3600e9) / 60e9);
    const s = fraction(u % 60e9, 9);
    out = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  }
  return neg ? `-${out}` : out;
}

const GO_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
};

function goEscape(ch: string, quote: string): string {
  if (ch === quote) return `\\${quote}`;
  const esc = GO_ESCAPES[ch];
  if (esc) return esc;
  const c = ch.codePointAt(0) as number;
  if (c < 0x20 || c === 0x7f) return `\\x${c.toString(16).padStart(2, '0')}`;
  return ch;
}

/** Go's `strconv.Quote` for the strings a Dockerfile holds (control characters escaped). */
export function goQuote(s: string): string {
  return `"${[...s].map((ch) => goEscape(ch, '"')).join('')}"`;
}

/** Go's `%q` of an int: a quoted character literal (`'\x03'`). */
export function goQuoteRune(n: number): string {
  return `'${goEscape(String.fromCodePoint(n), "'")}'`;
}

/** The history `created_by` BuildKit writes: `HEALTHCHECK %q` of the config (`&{["CMD-SHELL" "x"] "30s" … '\x03'}`). */
export function healthcheckHistory(h: HealthConfig): string {
  const d = (n: number | undefined) => goQuote(formatGoDuration(n ?? 0));
  return `HEALTHCHECK &{[${h.Test.map(goQuote).join(' ')}] ${d(h.Interval)} ${d(h.Timeout)} ${d(h.StartPeriod)} ${d(
    h.StartInterval,
  )} ${goQuoteRune(h.Retries ?? 0)}}`;
}
