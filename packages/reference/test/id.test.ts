import { describe, expect, it } from 'vitest';
import { isImageIdPrefix, parseImageId, SHORT_ID_LENGTH } from '../src/index.js';
import { expectInvalid } from './helpers.js';

const ID = 'da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821';

describe('image IDs and prefixes', () => {
  it.each([
    [`sha256:${ID}`, ID, true],
    [ID, ID, true],
    [ID.slice(0, 12), ID.slice(0, 12), false],
    [`sha256:${ID.slice(0, 12)}`, ID.slice(0, 12), false],
    ['d', 'd', false],
    ['0', '0', false],
    [ID.slice(0, 63), ID.slice(0, 63), false],
  ])('%s → hex %s, full %s', (input, hex, full) => {
    expect(isImageIdPrefix(input)).toBe(true);
    const id = parseImageId(input);
    expect(id.hex).toBe(hex);
    expect(id.full).toBe(full);
    expect(id.digest).toBe(full ? `sha256:${hex}` : undefined);
    expect(Object.isFrozen(id)).toBe(true);
  });

  it.each([
    '',
    'sha256:',
    `${ID}0`,
    `sha256:${ID}0`,
    ID.toUpperCase(),
    'DA304E',
    'g123',
    'ubuntu',
    `sha512:${ID}`,
    'sha256',
    ' da304e',
    'da304e ',
    `sha256:${ID}`.replace('sha256', 'SHA256'),
  ])('%j is not an image ID', (input) => {
    expect(isImageIdPrefix(input)).toBe(false);
    const e = expectInvalid(
      () => parseImageId(input),
      `invalid image ID "${input}": expected sha256:<hex> or lower-case hex digits (at least one, at most 64)`,
    );
    expect(e.input).toBe(input);
  });

  it('docker shows 12 hex digits', () => {
    expect(SHORT_ID_LENGTH).toBe(12);
  });
});
