/**
 * The image reference grammar of distribution/reference (`regexp.go`), built from small named pieces.
 *
 * ```
 * reference        := name [ ":" tag ] [ "@" digest ]
 * name             := [domain '/'] remote-name
 * domain           := host [':' port-number]
 * host             := domain-name | IPv4address | \[ IPv6address \]
 * domain-name      := domain-component ['.' domain-component]*
 * domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 * port-number      := /[0-9]+/
 * path-component   := alpha-numeric [separator alpha-numeric]*
 * remote-name      := path-component ['/' path-component]*
 * alpha-numeric    := /[a-z0-9]+/
 * separator        := /[_.]|__|[-]+/
 * tag              := /[\w][\w.-]{0,127}/
 * digest           := algorithm ":" hex   (algorithm components joined by [-_+.], hex of 32 or more)
 * identifier       := /[a-f0-9]{64}/
 * ```
 *
 * Every piece is a pattern string (for composing) and the anchored pieces are RegExps (for matching).
 */

/** Lower-case letters and digits: the atom of a path component. */
export const ALPHANUMERIC = '[a-z0-9]+';

/** One period, one or two underscores, or any number of dashes, between alphanumerics of a path component. */
export const SEPARATOR = '(?:[._]|__|[-]+)';

/** `localhost`, the one domain that needs neither a dot nor a port. */
export const LOCALHOST = 'localhost';

/** One label of a domain name: letters (either case), digits, and inner dashes. */
export const DOMAIN_NAME_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';

/** `:` and a port number, optional. */
export const OPTIONAL_PORT = '(?::[0-9]+)?';

/** A tag: a word character, then up to 127 word characters, dots and dashes. */
export const TAG = '[\\w][\\w.-]{0,127}';

/** A digest: algorithm components joined by `-_+.`, a colon, and at least 32 hex digits (128 bits). */
export const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';

/** A content-addressable identifier: 64 lower-case hex digits (sha256 without its algorithm). */
export const IDENTIFIER = '([a-f0-9]{64})';

/** An IPv6 address in square brackets; zone identifiers and embedded IPv4 are deliberately excluded. */
export const IPV6_ADDRESS = '\\[(?:[a-fA-F0-9:]+)\\]';

/** A DNS-like name (also covers dotted IPv4 addresses). */
export const DOMAIN_NAME = `${DOMAIN_NAME_COMPONENT}(?:\\.${DOMAIN_NAME_COMPONENT})*`;

/** A domain name or a bracketed IPv6 address. */
export const HOST = `(?:${DOMAIN_NAME}|${IPV6_ADDRESS})`;

/** The registry part of a name: a host and an optional port. */
export const DOMAIN_AND_PORT = `${HOST}${OPTIONAL_PORT}`;

/** One slash-separated component of a repository path. */
export const PATH_COMPONENT = `${ALPHANUMERIC}${anyTimes(SEPARATOR, ALPHANUMERIC)}`;

/** The repository path ("remote name"): path components joined by `/`. */
export const REMOTE_NAME = `${PATH_COMPONENT}${anyTimes('/', PATH_COMPONENT)}`;

/** A repository name: an optional domain and `/`, then the path. */
export const NAME = `${optional(DOMAIN_AND_PORT, '/')}${REMOTE_NAME}`;

/** A whole reference with three captures: name, tag, digest. */
export const REFERENCE = anchored(capture(NAME), optional(':', capture(TAG)), optional('@', capture(DIGEST)));

/** Matches a whole reference; groups 1, 2, 3 are the name, the tag and the digest. */
export const referenceRegexp: RegExp = new RegExp(REFERENCE);

/** Matches a repository name; group 1 is the domain distribution's regexp would take (may be empty), group 2 the rest. */
export const anchoredNameRegexp: RegExp = new RegExp(
  anchored(optional(capture(DOMAIN_AND_PORT), '/'), capture(REMOTE_NAME)),
);

/** Matches a domain with optional port, nothing else. */
export const anchoredDomainRegexp: RegExp = new RegExp(anchored(DOMAIN_AND_PORT));

/** Matches a repository path, nothing else. */
export const anchoredPathRegexp: RegExp = new RegExp(anchored(REMOTE_NAME));

/** Matches a tag, nothing else. */
export const anchoredTagRegexp: RegExp = new RegExp(anchored(TAG));

/** Matches a digest's shape, nothing else (see `digestProblem` for the algorithm and length checks). */
export const anchoredDigestRegexp: RegExp = new RegExp(anchored(DIGEST));

/** Matches a 64-hex identifier, nothing else. */
export const anchoredIdentifierRegexp: RegExp = new RegExp(anchored(IDENTIFIER));

/** The most characters a repository path may have. */
export const REPOSITORY_NAME_MAX_LENGTH = 255;

/** Hex lengths of the digest algorithms docker accepts in references (go-digest's registered algorithms). */
export const DIGEST_ALGORITHM_HEX_LENGTHS: Readonly<Record<string, number>> = Object.freeze({
  sha256: 64,
  sha384: 96,
  sha512: 128,
});

// go-digest's looser shape, used only to tell "unsupported algorithm" from "bad format".
const goDigestShape = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/**
 * Why a digest string would be rejected by go-digest's `Parse` (as docker does), or `undefined` if it is fine.
 * The messages are go-digest's own.
 */
export function digestProblem(digest: string): string | undefined {
  const colon = digest.indexOf(':');
  if (colon < 0 || colon === digest.length - 1) return 'invalid checksum digest format';
  const algorithm = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  const length = Object.hasOwn(DIGEST_ALGORITHM_HEX_LENGTHS, algorithm)
    ? DIGEST_ALGORITHM_HEX_LENGTHS[algorithm]
    : undefined;
  if (length === undefined) {
    return goDigestShape.test(digest) ? 'unsupported digest algorithm' : 'invalid checksum digest format';
  }
  if (encoded.length !== length) return 'invalid checksum digest length';
  if (!/^[a-f0-9]+$/.test(encoded)) return 'invalid checksum digest format';
  return undefined;
}

/** True if `s` is a domain (host with optional port) by the grammar. */
export function isValidDomain(s: string): boolean {
  return anchoredDomainRegexp.test(s);
}

/** True if `s` is a repository path by the grammar (lowercase components; length not checked). */
export function isValidPath(s: string): boolean {
  return anchoredPathRegexp.test(s);
}

/** True if `s` is a tag by the grammar. */
export function isValidTag(s: string): boolean {
  return anchoredTagRegexp.test(s);
}

/** True if `s` is a digest docker accepts in a reference: the grammar's shape plus a supported algorithm and length. */
export function isValidReferenceDigest(s: string): boolean {
  return anchoredDigestRegexp.test(s) && digestProblem(s) === undefined;
}

function optional(...parts: string[]): string {
  return `(?:${parts.join('')})?`;
}

function anyTimes(...parts: string[]): string {
  return `(?:${parts.join('')})*`;
}

function capture(...parts: string[]): string {
  return `(${parts.join('')})`;
}

function anchored(...parts: string[]): string {
  return `^${parts.join('')}$`;
}
