import { INVALID_REFERENCE_FORMAT, InvalidReferenceError } from './errors.js';
import {
  anchoredDigestRegexp,
  digestProblem,
  isValidDomain,
  isValidTag,
  REPOSITORY_NAME_MAX_LENGTH,
  referenceRegexp,
} from './grammar.js';

/**
 * An image reference as written: `[domain/]path[:tag][@digest]`, nothing filled in.
 * `domain` is `''` when the text names none (`ubuntu`, `library/ubuntu`); absent tag and digest are absent keys.
 * Objects from this package are frozen and print themselves with `String(ref)`.
 */
export interface Reference {
  readonly domain: string;
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** A reference after docker's normalization: the domain is always set (`docker.io` for Docker Hub). */
export interface NormalizedReference extends Reference {}

/**
 * Parse `s` by distribution's grammar without normalizing it: `parseReference('ubuntu')` is
 * `{ domain: '', path: 'ubuntu' }`. The first path segment is taken as the domain the way docker does:
 * when it is `localhost`, contains `.` or `:`, or has upper-case letters (and is a valid domain).
 *
 * @throws InvalidReferenceError (code `NAME_INVALID`, or `DIGEST_INVALID` for a bad digest)
 * @example
 * parseReference('localhost:5000/team/app:1.0') // { domain: 'localhost:5000', path: 'team/app', tag: '1.0' }
 */
export function parseReference(s: string): Reference {
  if (s === '') throw new InvalidReferenceError('repository name must have at least one component', s);
  const match = referenceRegexp.exec(s);
  if (match === null) throw formatError(s);
  const name = match[1] ?? '';
  const { domain, path } = splitDomain(name);
  if (path.length > REPOSITORY_NAME_MAX_LENGTH) {
    throw new InvalidReferenceError(
      `repository name must not be more than ${REPOSITORY_NAME_MAX_LENGTH} characters`,
      s,
    );
  }
  const digest = match[3];
  if (digest !== undefined) {
    const problem = digestProblem(digest);
    if (problem !== undefined) throw new InvalidReferenceError(problem, s, 'DIGEST_INVALID');
  }
  return makeReference(domain, path, match[2], digest);
}

/** The text of a reference: `[domain/]path[:tag][@digest]`, so `formatReference(parseReference(s)) === s`. */
export function formatReference(ref: Reference): string {
  let out = repositoryName(ref);
  if (ref.tag !== undefined) out += `:${ref.tag}`;
  if (ref.digest !== undefined) out += `@${ref.digest}`;
  return out;
}

/** The repository part of a reference, without tag or digest: `domain/path`, or `path` when there is no domain. */
export function repositoryName(ref: Reference): string {
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

/** True when the reference pins content by digest (`name@sha256:…`, with or without a tag). */
export function isDigestReference(ref: Reference): ref is Reference & { readonly digest: string } {
  return ref.digest !== undefined;
}

/**
 * The same reference with `tag` (a digest it has is kept, as distribution's `WithTag` does).
 * @throws InvalidReferenceError `invalid tag format` (code `TAG_INVALID`)
 */
export function withTag<R extends Reference>(ref: R, tag: string): R {
  if (!isValidTag(tag)) throw new InvalidReferenceError('invalid tag format', tag, 'TAG_INVALID');
  return makeReference(ref.domain, ref.path, tag, ref.digest) as R;
}

/**
 * The same reference pinned to `digest` (a tag it has is kept). The digest must be one docker accepts:
 * sha256, sha384 or sha512 with lower-case hex of the right length.
 * @throws InvalidReferenceError (code `DIGEST_INVALID`)
 */
export function withDigest<R extends Reference>(ref: R, digest: string): R {
  if (!anchoredDigestRegexp.test(digest))
    throw new InvalidReferenceError('invalid digest format', digest, 'DIGEST_INVALID');
  const problem = digestProblem(digest);
  if (problem !== undefined) throw new InvalidReferenceError(problem, digest, 'DIGEST_INVALID');
  return makeReference(ref.domain, ref.path, ref.tag, digest) as R;
}

/** The reference without tag and digest: just the repository. */
export function withoutTagOrDigest<R extends Reference>(ref: R): R {
  return makeReference(ref.domain, ref.path, undefined, undefined) as R;
}

/**
 * Split a repository name into domain and path the way docker decides what a domain is: the first
 * `/`-separated segment, when it is `localhost`, contains `.` or `:`, or is not all lower-case, and is
 * a valid domain. Otherwise the domain is `''` and the whole name is the path.
 */
export function splitDomain(name: string): { readonly domain: string; readonly path: string } {
  const slash = name.indexOf('/');
  if (slash > 0) {
    const first = name.slice(0, slash);
    if (looksLikeDomain(first) && isValidDomain(first)) return { domain: first, path: name.slice(slash + 1) };
  }
  return { domain: '', path: name };
}

/** docker's test for "this first segment names a registry" (`splitDockerDomain`), before grammar validation. */
export function looksLikeDomain(segment: string): boolean {
  return segment === 'localhost' || segment.includes('.') || segment.includes(':') || segment.toLowerCase() !== segment;
}

/** Build a frozen reference object whose `toString()` is its text. No validation: callers pass grammar-checked parts. */
export function makeReference(
  domain: string,
  path: string,
  tag: string | undefined,
  digest: string | undefined,
): Reference {
  const ref: { domain: string; path: string; tag?: string; digest?: string } = { domain, path };
  if (tag !== undefined && tag !== '') ref.tag = tag;
  if (digest !== undefined && digest !== '') ref.digest = digest;
  Object.defineProperty(ref, 'toString', {
    value(this: Reference): string {
      return formatReference(this);
    },
    enumerable: false,
  });
  return Object.freeze(ref);
}

function formatError(s: string): InvalidReferenceError {
  // distribution's Parse: if only the case is wrong, say so (docker prints this for `docker pull Foo_Bar/x`).
  const lower = s.toLowerCase();
  if (lower !== s && referenceRegexp.test(lower))
    return new InvalidReferenceError('repository name must be lowercase', s);
  return new InvalidReferenceError(INVALID_REFERENCE_FORMAT, s);
}
