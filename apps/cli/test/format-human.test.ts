import { describe, expect, it } from 'vitest';
import {
  bytesSize,
  createdSince,
  displaySize,
  formatG,
  humanDuration,
  humanSize,
  humanSizeWithPrecision,
  SHORT_ID_LENGTH,
  truncateId,
} from '../src/format/index.js';

const KB = 1000;
const MB = 1000 * KB;
const GB = 1000 * MB;
const TB = 1000 * GB;
const PB = 1000 * TB;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
const PiB = 1024 * TiB;

describe('humanSize (go-units size_test.go TestHumanSize)', () => {
  it.each([
    [1000, '1kB'],
    [1024, '1.024kB'],
    [1000000, '1MB'],
    [1048576, '1.049MB'],
    [2 * MB, '2MB'],
    [3.42 * GB, '3.42GB'],
    [5.372 * TB, '5.372TB'],
    [2.22 * PB, '2.22PB'],
    [10000000000000 * PB, '1e+04YB'],
    [0, '0B'],
    [999, '999B'],
  ])('%d → %s', (size, text) => {
    expect(humanSize(size)).toBe(text);
  });
});

describe('bytesSize (go-units size_test.go TestBytesSize)', () => {
  it.each([
    [1024, '1KiB'],
    [1024 * 1024, '1MiB'],
    [1048576, '1MiB'],
    [2 * MiB, '2MiB'],
    [3.42 * GiB, '3.42GiB'],
    [5.372 * TiB, '5.372TiB'],
    [2.22 * PiB, '2.22PiB'],
    [KiB * KiB * KiB * KiB * KiB * PiB, '1.049e+06YiB'],
    [0, '0B'],
    [1023, '1023B'],
  ])('%d → %s', (size, text) => {
    expect(bytesSize(size)).toBe(text);
  });
});

describe('displaySize: docker images SIZE (HumanSizeWithPrecision 3)', () => {
  it.each([
    [0, '0B'],
    [72_800_000, '72.8MB'],
    [1_234_567, '1.23MB'],
    [77_812_345, '77.8MB'],
    [5_577_287, '5.58MB'],
    [1_125, '1.12kB'], // an exact tie rounds half to even, as Go's %g does
    [1_135, '1.14kB'],
    [999_999, '1e+03kB'], // Go's %.3g switches to exponent form; docker prints this too
    [1_500_000_000, '1.5GB'],
  ])('%d → %s', (size, text) => {
    expect(displaySize(size)).toBe(text);
    expect(humanSizeWithPrecision(size, 3)).toBe(text);
  });
});

describe('formatG: Go %.*g', () => {
  it.each([
    [0, 3, '0'],
    [1, 3, '1'],
    [123.456, 4, '123.5'],
    [0.0001234, 3, '0.000123'],
    [0.00001234, 3, '1.23e-05'],
    [1234, 3, '1.23e+03'],
    [12.5, 2, '12'],
    [13.5, 2, '14'],
    [-2.5, 1, '-2'],
    [1e100, 4, '1e+100'],
    [5e-324, 3, '4.94e-324'],
    [Number.NaN, 3, 'NaN'],
    [Number.POSITIVE_INFINITY, 3, '+Inf'],
  ])('%d with %d digits → %s', (x, p, text) => {
    expect(formatG(x, p)).toBe(text);
  });
});

const second = 1000;
const minute = 60 * second;
const hour = 60 * minute;
const day = 24 * hour;
const week = 7 * day;
const month = 30 * day;
const year = 365 * day;

describe('humanDuration (go-units duration_test.go)', () => {
  it.each([
    [450, 'Less than a second'],
    [1 * second, '1 second'],
    [45 * second, '45 seconds'],
    [46 * second, '46 seconds'],
    [59 * second, '59 seconds'],
    [60 * second, 'About a minute'],
    [1 * minute, 'About a minute'],
    [3 * minute, '3 minutes'],
    [35 * minute, '35 minutes'],
    [35 * minute + 40 * second, '35 minutes'],
    [45 * minute, '45 minutes'],
    [45 * minute + 40 * second, '45 minutes'],
    [46 * minute, '46 minutes'],
    [59 * minute, '59 minutes'],
    [1 * hour, 'About an hour'],
    [1 * hour + 29 * minute, 'About an hour'],
    [1 * hour + 31 * minute, '2 hours'],
    [1 * hour + 59 * minute, '2 hours'],
    [3 * hour, '3 hours'],
    [3 * hour + 29 * minute, '3 hours'],
    [3 * hour + 31 * minute, '4 hours'],
    [3 * hour + 59 * minute, '4 hours'],
    [3 * hour + 60 * minute, '4 hours'],
    [24 * hour, '24 hours'],
    [1 * day + 12 * hour, '36 hours'],
    [2 * day, '2 days'],
    [7 * day, '7 days'],
    [13 * day + 5 * hour, '13 days'],
    [2 * week, '2 weeks'],
    [2 * week + 4 * day, '2 weeks'],
    [3 * week, '3 weeks'],
    [4 * week, '4 weeks'],
    [4 * week + 3 * day, '4 weeks'],
    [1 * month, '4 weeks'],
    [1 * month + 2 * week, '6 weeks'],
    [2 * month, '2 months'],
    [2 * month + 2 * week, '2 months'],
    [3 * month, '3 months'],
    [3 * month + 1 * week, '3 months'],
    [5 * month + 2 * week, '5 months'],
    [13 * month, '13 months'],
    [23 * month, '23 months'],
    [24 * month, '24 months'],
    [24 * month + 2 * week, '2 years'],
    [3 * year + 2 * month, '3 years'],
    [-5 * second, 'Less than a second'],
  ])('%d ms → %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe('createdSince: docker CREATED column', () => {
  const now = Date.parse('2026-11-23T12:00:00Z');
  it.each([
    ['2026-11-09T12:00:00Z', '2 weeks ago'],
    ['2026-11-23T11:00:00Z', 'About an hour ago'],
    ['2026-08-20T12:00:00Z', '3 months ago'],
    ['2024-11-01T12:00:00Z', '2 years ago'],
    ['2026-11-23T11:59:59.500Z', 'Less than a second ago'],
    ['2026-11-22T12:00:00Z', '24 hours ago'],
  ])('%s → %s', (created, text) => {
    expect(createdSince(created, now)).toBe(text);
    expect(createdSince(new Date(created), new Date(now))).toBe(text);
    expect(createdSince(Date.parse(created), now)).toBe(text);
  });
});

describe('createdSince without a usable time', () => {
  it('is empty, so the default image table prints N/A', () => {
    expect(createdSince('', 0)).toBe('');
    expect(createdSince('not a date', 0)).toBe('');
    expect(createdSince(new Date(Number.NaN))).toBe('');
  });
});

describe('truncateId (docker stringid.TruncateID)', () => {
  const hex = 'da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821';
  it.each([
    [`sha256:${hex}`, 'da304e823d8c'],
    [hex, 'da304e823d8c'],
    ['abc', 'abc'],
    ['sha256:abc', 'abc'],
    ['', ''],
  ])('%s → %s', (id, short) => {
    expect(truncateId(id)).toBe(short);
  });

  it('keeps 12 characters', () => {
    expect(SHORT_ID_LENGTH).toBe(12);
  });
});
