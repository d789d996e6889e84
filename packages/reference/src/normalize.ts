import { INVALID_REFERENCE_FORMAT, InvalidReferenceError } from './errors.js';
import { anchoredIdentifierRegexp } from './grammar.js';
import {
  formatReference,
  looksLikeDomain,
  makeReference,
  type NormalizedReference,
  parseReference,
  type Reference,
} from './reference.js';

/** The domain docker gives names without one (Docker Hub). The registry host behind it is the client's business. */
export const DEFAULT_DOMAIN = 'docker.io';

/** Docker Hub's old name, normalized to {@link DEFAULT_DOMAIN}. */
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';

/** The Docker Hub namespace of official images: `ubuntu` is `docker.io/library/ubuntu`. */
export const OFFICIAL_REPO_PREFIX = 'library/';

/** The tag docker assumes when a reference has neither tag nor digest. */
export const DEFAULT_TAG = 'latest';

/** Options of {@link normalizeReference}. */
export interface NormalizeOptions {
  /** Add `:latest` when the reference has neither tag nor digest (default true, like `docker pull`). */
  readonly defaultTag?: boolean;
}

/**
 * Turn what a user typed into the full reference docker means (`ParseNormalizedNamed` + `TagNameOnly`):
 * `ubuntu` → `docker.io/library/ubuntu:latest`, `index.docker.io/x/y` → `docker.io/x/y:latest`,
 * `localhost:5000/app@sha256:…` unchanged. `name:tag@digest` keeps both. Idempotent.
 *
 * One deliberate difference from docker: a first segment that looks like a registry (`foo_bar.com/app`) but is
 * not a valid domain is rejected up front; docker accepts it as a name without a registry and fails later.
 *
 * @throws InvalidReferenceError with docker's messages, e.g.
 *   `invalid reference format: repository name (library/Ubuntu) must be lowercase`
 */
export function normalizeReference(input: string | Reference, options: NormalizeOptions = {}): NormalizedReference {
  const s = typeof input === 'string' ? input : formatReference(input);
  if (anchoredIdentifierRegexp.test(s)) {
    throw new InvalidReferenceError(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`, s);
  }
  const { domain, remainder } = splitDockerDomain(s);
  // docker checks the case of what precedes the first ':' — a digest's `@sha256` included, as docker prints it.
  const remote = remainder.split(':', 1)[0] ?? '';
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(`${INVALID_REFERENCE_FORMAT}: repository name (${remote}) must be lowercase`, s);
  }
  let ref: Reference;
  try {
    ref = parseReference(`${domain}/${remainder}`);
  } catch (error) {
    if (error instanceof InvalidReferenceError) throw new InvalidReferenceError(error.message, s, error.code);
    throw error;
  }
  if (ref.domain !== domain) throw new InvalidReferenceError(INVALID_REFERENCE_FORMAT, s);
  const addTag = (options.defaultTag ?? true) && ref.tag === undefined && ref.digest === undefined;
  return addTag ? makeReference(ref.domain, ref.path, DEFAULT_TAG, undefined) : ref;
}

/**
 * The short form docker prints (`FamiliarString`): Docker Hub's domain and the `library/` namespace dropped.
 * `docker.io/library/ubuntu:latest` → `ubuntu:latest`, `docker.io/user/app:1` → `user/app:1`,
 * `ghcr.io/o/r` → `ghcr.io/o/r`. No default tag is added: `familiarString('ubuntu')` is `ubuntu`.
 * Unlike docker, a Docker Hub path whose first segment looks like a registry (`docker.io/example.com/app`) keeps
 * its `docker.io/`, so the short form always normalizes back to the same reference.
 */
export function familiarString(input: string | Reference): string {
  return formatReference(familiarize(normalizeReference(input, { defaultTag: false })));
}

/** The familiar repository name without tag or digest (`FamiliarName`): what `docker images` shows as REPOSITORY. */
export function familiarName(input: string | Reference): string {
  const ref = familiarize(normalizeReference(input, { defaultTag: false }));
  return ref.domain === '' ? ref.path : `${ref.domain}/${ref.path}`;
}

function familiarize(ref: Reference): Reference {
  if (ref.domain !== DEFAULT_DOMAIN) return ref;
  // docker.io/docker.io/a must not shorten to docker.io/a, which names another repository (docker would print it).
  const slash = ref.path.indexOf('/');
  if (slash > 0 && looksLikeDomain(ref.path.slice(0, slash))) return ref;
  let path = ref.path;
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
    if (!rest.includes('/')) path = rest;
  }
  return makeReference('', path, ref.tag, ref.digest);
}

/** docker's `splitDockerDomain`: decide the registry of a name typed by a user, on the raw text. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash < 0) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === LEGACY_DEFAULT_DOMAIN) {
    domain = DEFAULT_DOMAIN;
    remainder = rest;
  } else if (looksLikeDomain(first)) {
    domain = first;
    remainder = rest;
  } else {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}
