import { describe, expect, it } from 'vitest';
import { parseChallenges } from '../src/index.js';

describe('parseChallenges', () => {
  const vectors: [string, ReturnType<typeof parseChallenges>][] = [
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:samalba/my-app:pull,push',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['basic realm=lade-test', [{ scheme: 'basic', params: { realm: 'lade-test' } }]],
    [
      'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull",error="insufficient_scope"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://ghcr.io/token',
            service: 'ghcr.io',
            scope: 'repository:a/b:pull',
            error: 'insufficient_scope',
          },
        },
      ],
    ],
    [
      'Basic realm="a, b", Bearer realm="https://x/token", service="x"',
      [
        { scheme: 'basic', params: { realm: 'a, b' } },
        { scheme: 'bearer', params: { realm: 'https://x/token', service: 'x' } },
      ],
    ],
    ['Bearer realm = "spaced" , service = "s"', [{ scheme: 'bearer', params: { realm: 'spaced', service: 's' } }]],
    ['Bearer realm="with \\"escaped\\" quotes"', [{ scheme: 'bearer', params: { realm: 'with "escaped" quotes' } }]],
    ['Negotiate abc123==', [{ scheme: 'negotiate', params: { '': 'abc123==' } }]],
    [
      'Negotiate abc123==, Basic realm="r"',
      [
        { scheme: 'negotiate', params: { '': 'abc123==' } },
        { scheme: 'basic', params: { realm: 'r' } },
      ],
    ],
    ['Bearer', [{ scheme: 'bearer', params: {} }]],
    ['', []],
    ['Bearer REALM="upper"', [{ scheme: 'bearer', params: { realm: 'upper' } }]],
    ['Bearer realm="unterminated', [{ scheme: 'bearer', params: { realm: 'unterminated' } }]],
  ];
  for (const [header, want] of vectors) {
    it(`parses ${JSON.stringify(header)}`, () => {
      expect(parseChallenges(header)).toEqual(want);
    });
  }
});
