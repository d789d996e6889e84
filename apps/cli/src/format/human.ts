/**
 * docker's human-readable numbers: go-units `HumanSize`, `BytesSize`, `HumanDuration`, and
 * `stringid.TruncateID`, reproduced digit for digit (Go's `%.*g` formatting, half-to-even ties included).
 */

const DECIMAL_UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'] as const;
const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'] as const;

/** How many hex digits docker shows of an ID. */
export const SHORT_ID_LENGTH = 12;

function scale(size: number, base: number, units: readonly string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i] ?? 'B'];
}

/**
 * go-units `HumanSizeWithPrecision`: decimal units (`B kB MB GB TB …`), `precision` significant digits,
 * formatted like Go's `%.*g` (so `999999` is `1e+03kB` at precision 3, exactly as docker prints it).
 */
export function humanSizeWithPrecision(size: number, precision: number): string {
  const [value, unit] = scale(size, 1000, DECIMAL_UNITS);
  return `${formatG(value, precision)}${unit}`;
}

/** go-units `HumanSize`: 4 significant digits (`1.049MB`, `2.22PB`); docker uses it for shared/unique sizes. */
export function humanSize(size: number): string {
  return humanSizeWithPrecision(size, 4);
}

/** The SIZE column of `docker images` and `docker history`: 3 significant digits (`72.8MB`, `1.23GB`, `0B`). */
export function displaySize(size: number): string {
  return humanSizeWithPrecision(size, 3);
}

/** go-units `BytesSize`: binary units (`KiB MiB GiB …`), 4 significant digits; docker uses it for memory (`stats`). */
export function bytesSize(size: number): string {
  const [value, unit] = scale(size, 1024, BINARY_UNITS);
  return `${formatG(value, 4)}${unit}`;
}

/**
 * go-units `HumanDuration` of a duration in milliseconds: `Less than a second`, `1 second`, `About a minute`,
 * `About an hour`, `36 hours`, `13 days`, `4 weeks`, `23 months`, `2 years` — with go-units' exact thresholds.
 */
export function humanDuration(milliseconds: number): string {
  const seconds = Math.trunc(milliseconds / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(milliseconds / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(milliseconds / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(milliseconds / 3_600_000) / 24 / 365)} years`;
}

/**
 * docker's CREATED column: `humanDuration(now - created) + " ago"` (`2 weeks ago`, `About an hour ago`).
 * `created` is a Date, an RFC 3339 string, or milliseconds since the epoch. A missing or unreadable time gives `''`,
 * as docker's `CreatedSince` does for a zero time, so `{{if .CreatedSince}}…{{else}}N/A{{end}}` prints `N/A`.
 */
export function createdSince(created: Date | string | number, now: Date | number = Date.now()): string {
  const at = created instanceof Date ? created.getTime() : typeof created === 'string' ? Date.parse(created) : created;
  const reference = now instanceof Date ? now.getTime() : now;
  if (!Number.isFinite(at) || !Number.isFinite(reference)) return '';
  return `${humanDuration(reference - at)} ago`;
}

/** docker's `stringid.TruncateID`: drop an `algorithm:` prefix, keep the first 12 characters. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  const hex = colon >= 0 ? id.slice(colon + 1) : id;
  return hex.length > SHORT_ID_LENGTH ? hex.slice(0, SHORT_ID_LENGTH) : hex;
}

/**
 * Go's `fmt.Sprintf("%.*g", precision, x)`: `precision` significant digits, rounded half to even on the exact
 * binary value, trailing zeros dropped, exponent form (`1e+03`) when the exponent is < -4 or >= precision.
 */
export function formatG(x: number, precision: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const p = precision === 0 ? 1 : precision;
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const sign = x < 0 ? '-' : '';
  const { digits, exponent } = roundSignificant(Math.abs(x), p);
  if (exponent < -4 || exponent >= p) {
    const mantissa = stripZeros(digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits);
    const e = Math.abs(exponent);
    return `${sign}${mantissa}e${exponent < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`;
  }
  let fixed: string;
  if (exponent >= 0) {
    const intPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const frac = digits.slice(exponent + 1);
    fixed = frac.length > 0 ? `${intPart}.${frac}` : intPart;
  } else {
    fixed = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  }
  return sign + stripZeros(fixed);
}

function stripZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** The `p` significant decimal digits of `x` (> 0) and the decimal exponent of the first one. */
function roundSignificant(x: number, p: number): { digits: string; exponent: number } {
  const { digits: all, exponent } = exactDigits(x);
  if (all.length <= p) return { digits: all.padEnd(p, '0'), exponent };
  let kept = all.slice(0, p);
  const next = all.charCodeAt(p) - 48;
  const restNonZero = /[1-9]/.test(all.slice(p + 1));
  const lastOdd = (kept.charCodeAt(p - 1) - 48) % 2 === 1;
  const roundUp = next > 5 || (next === 5 && (restNonZero || lastOdd));
  let e = exponent;
  if (roundUp) {
    const bumped = (BigInt(kept) + 1n).toString();
    if (bumped.length > p) {
      kept = bumped.slice(0, p);
      e += 1;
    } else {
      kept = bumped.padStart(p, '0');
    }
  }
  return { digits: kept, exponent: e };
}

/** Every significant decimal digit of the double `x` (> 0), exactly, and the exponent of the first. */
function exactDigits(x: number): { digits: string; exponent: number } {
  // A double is m * 2^e exactly; scale to an integer ratio and print it with BigInt.
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const rawExp = Number((bits >> 52n) & 0x7ffn);
  let mantissa = bits & ((1n << 52n) - 1n);
  let exp2: number;
  if (rawExp === 0) {
    exp2 = -1074;
  } else {
    mantissa |= 1n << 52n;
    exp2 = rawExp - 1075;
  }
  let intText: string;
  let fracText = '';
  if (exp2 >= 0) {
    intText = (mantissa << BigInt(exp2)).toString();
  } else {
    const shift = BigInt(-exp2);
    const intPart = mantissa >> shift;
    const frac = mantissa & ((1n << shift) - 1n);
    intText = intPart.toString();
    // frac / 2^shift = frac * 5^shift / 10^shift: exactly `shift` decimal digits.
    fracText = (frac * 5n ** shift).toString().padStart(-exp2, '0');
  }
  if (intText !== '0') {
    const digits = (intText + fracText).replace(/0+$/, '');
    return { digits: digits === '' ? '0' : digits, exponent: intText.length - 1 };
  }
  const lead = fracText.search(/[1-9]/);
  return { digits: fracText.slice(lead).replace(/0+$/, ''), exponent: -(lead + 1) };
}
