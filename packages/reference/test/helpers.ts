import { LadeError } from '@lade/digest';
import { expect } from 'vitest';
import { InvalidReferenceError } from '../src/index.js';

/** Run `fn`, expect an InvalidReferenceError (also a LadeError) with exactly this message and code. */
export function expectInvalid(fn: () => unknown, message: string, code = 'NAME_INVALID'): InvalidReferenceError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught, 'expected an error').toBeInstanceOf(InvalidReferenceError);
  expect(caught).toBeInstanceOf(LadeError);
  const error = caught as InvalidReferenceError;
  expect(error.message).toBe(message);
  expect(error.code).toBe(code);
  return error;
}
