import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  familiarString,
  formatReference,
  InvalidReferenceError,
  normalizeReference,
  PATH_COMPONENT,
  parseReference,
  REFERENCE,
  type Reference,
  TAG,
} from '../src/index.js';

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,8}[a-z0-9])?$/);
const upperLabel = fc.stringMatching(/^[A-Z][a-zA-Z0-9]{0,6}$/);
const port = fc.integer({ min: 1, max: 65535 }).map(String);
const ipv6 = fc.array(fc.stringMatching(/^[0-9a-f]{1,4}$/), { minLength: 2, maxLength: 8 }).map((g) => g.join(':'));

// Domains as docker recognises them in a name: localhost, dotted, with a port, IPv6, or upper-case.
const domain = fc.oneof(
  fc.constant('localhost'),
  fc.tuple(label, label).map(([a, b]) => `${a}.${b}`),
  fc.tuple(label, port).map(([a, p]) => `${a}:${p}`),
  fc.tuple(label, label, port).map(([a, b, p]) => `${a}.${b}:${p}`),
  fc.tuple(ipv6, fc.option(port, { nil: undefined })).map(([a, p]) => (p === undefined ? `[${a}]` : `[${a}]:${p}`)),
  upperLabel,
);
const component = fc.stringMatching(new RegExp(`^${PATH_COMPONENT}$`)).filter((c) => c.length <= 40);
const path = fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('/'));
const tag = fc.stringMatching(new RegExp(`^${TAG}$`));
const digest = fc.oneof(
  hex(64).map((h) => `sha256:${h}`),
  hex(128).map((h) => `sha512:${h}`),
);

const reference: fc.Arbitrary<Reference> = fc
  .record(
    {
      domain: fc.oneof(fc.constant(''), domain),
      path,
      tag: fc.option(tag, { nil: undefined }),
      digest: fc.option(digest, { nil: undefined }),
    },
    { requiredKeys: ['domain', 'path'] },
  )
  .map((r) => {
    const out: { domain: string; path: string; tag?: string; digest?: string } = { domain: r.domain, path: r.path };
    if (r.tag !== undefined) out.tag = r.tag;
    if (r.digest !== undefined) out.digest = r.digest;
    return out;
  })
  // Without a domain, a first segment with a dot would be read as a registry: that object is not a parse result.
  .filter((r) => r.domain !== '' || !r.path.includes('/') || !r.path.split('/')[0]?.includes('.'));

describe('round trips (fast-check)', () => {
  it('parse(format(x)) equals x', () => {
    fc.assert(
      fc.property(reference, (ref) => {
        expect(parseReference(formatReference(ref))).toEqual(ref);
      }),
      { numRuns: 500 },
    );
  });

  it('format(parse(s)) === s for every string the grammar generates that parses', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(new RegExp(REFERENCE)).filter((s) => s.length < 400),
        (s) => {
          let ref: Reference;
          try {
            ref = parseReference(s);
          } catch (error) {
            // Grammar-shaped but refused: only by the digest checks or the length limit.
            expect(error).toBeInstanceOf(InvalidReferenceError);
            expect((error as InvalidReferenceError).message).toMatch(/digest|255/);
            return;
          }
          expect(formatReference(ref)).toBe(s);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('normalize is idempotent and familiarString normalizes back to the same reference', () => {
    fc.assert(
      fc.property(reference, (ref) => {
        let once: Reference;
        try {
          once = normalizeReference(ref);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidReferenceError);
          return;
        }
        expect(normalizeReference(once)).toEqual(once);
        expect(normalizeReference(formatReference(once))).toEqual(once);
        expect(normalizeReference(familiarString(once))).toEqual(once);
      }),
      { numRuns: 500 },
    );
  });

  it('normalize and familiarString throw only InvalidReferenceError, and agree with each other, on reference-like text', () => {
    const alphabet = fc.constantFrom(
      ...'abcAB019.-_:/@[]'.split(''),
      'sha256:',
      'f'.repeat(64),
      'library/',
      'docker.io/',
    );
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 12 }).map((parts) => parts.join('')),
        (s) => {
          let normalized: Reference;
          try {
            normalized = normalizeReference(s);
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidReferenceError);
            return;
          }
          expect(normalized.domain).not.toBe('');
          expect(normalizeReference(familiarString(normalized))).toEqual(normalized);
          expect(normalizeReference(formatReference(normalized))).toEqual(normalized);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('parse throws only InvalidReferenceError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        try {
          const ref = parseReference(s);
          expect(formatReference(ref)).toBe(s);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidReferenceError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
