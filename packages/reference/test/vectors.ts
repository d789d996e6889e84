/**
 * Test vectors, taken as facts from distribution/reference (`regexp_test.go`, `reference_test.go`,
 * `normalize_test.go`) and go-containerregistry (`pkg/name/*_test.go`), written in our own table format.
 *
 * Where our API deliberately differs from distribution's raw `Parse` (the `domain` of a raw parse follows docker's
 * rule for what a registry is, not the raw regexp's first capture), the table states our value and says so.
 */

const F64 = 'f'.repeat(64);
const F128 = 'f'.repeat(128);
export const SHA256_F = `sha256:${F64}`;
export const SHA512_F = `sha512:${F128}`;
const BE17 = 'sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912';
const DBCC = 'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
const DEADBEEF = 'sha256:deadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33fdeadb33f';

/** distribution regexp_test.go TestDomainRegexp: does the whole string match domain[:port]? */
export const domainVectors: ReadonlyArray<readonly [input: string, match: boolean]> = [
  ['test.com', true],
  ['test.com:10304', true],
  ['test.com:http', false],
  ['localhost', true],
  ['localhost:8080', true],
  ['a', true],
  ['a.b', true],
  ['ab.cd.com', true],
  ['a-b.com', true],
  ['-ab.com', false],
  ['ab-.com', false],
  ['ab.c-om', true],
  ['ab.-com', false],
  ['ab.com-', false],
  ['0101.com', true],
  ['001a.com', true],
  ['b.gbc.io:443', true],
  ['b.gbc.io', true],
  ['xn--n3h.com', true],
  ['Asdf.com', true],
  ['192.168.1.1:75050', true],
  ['192.168.1.1:750050', true],
  ['[fd00:1:2::3]:75050', true],
  ['[fd00:1:2::3]75050', false],
  ['[fd00:1:2::3]::75050', false],
  ['[fd00:1:2::3%eth0]:75050', false],
  ['[fd00123123123]:75050', true],
  ['[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050', true],
  ['[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505', true],
  ['fd00:1:2::3:75050', false],
  // go-containerregistry registry_test.go
  ['gcr.io', true],
  ['gcr.io:9001', true],
  ['index.docker.io', true],
  ['us.gcr.io', true],
  ['example.text', true],
  ['localhost:9090', true],
  ['white space', false],
  ['gcr?com', false],
];

/**
 * distribution regexp_test.go TestFullNameRegexp: anchored name regexp, with its two captures
 * (the regexp's own domain capture, then the remainder) when it matches.
 */
export const fullNameVectors: ReadonlyArray<readonly [input: string, subs: readonly [string, string] | null]> = [
  ['', null],
  ['short', ['', 'short']],
  ['simple/name', ['simple', 'name']],
  ['library/ubuntu', ['library', 'ubuntu']],
  ['docker/stevvooe/app', ['docker', 'stevvooe/app']],
  ['aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb', ['aa', 'aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb']],
  ['aa/aa/bb/bb/bb', ['aa', 'aa/bb/bb/bb']],
  ['a/a/a/a', ['a', 'a/a/a']],
  ['a/a/a/a/', null],
  ['a//a/a', null],
  ['a', ['', 'a']],
  ['a/aa', ['a', 'aa']],
  ['a/aa/a', ['a', 'aa/a']],
  ['foo.com', ['', 'foo.com']],
  ['foo.com/', null],
  ['foo.com:8080/bar', ['foo.com:8080', 'bar']],
  ['foo.com:http/bar', null],
  ['foo.com/bar', ['foo.com', 'bar']],
  ['foo.com/bar/baz', ['foo.com', 'bar/baz']],
  ['localhost:8080/bar', ['localhost:8080', 'bar']],
  ['sub-dom1.foo.com/bar/baz/quux', ['sub-dom1.foo.com', 'bar/baz/quux']],
  ['blog.foo.com/bar/baz', ['blog.foo.com', 'bar/baz']],
  ['a^a', null],
  ['aa/asdf$$^/aa', null],
  ['asdf$$^/aa', null],
  ['aa-a/a', ['aa-a', 'a']],
  [`${'a/'.repeat(128)}a`, ['a', `${'a/'.repeat(127)}a`]],
  ['a-/a/a/a', null],
  ['foo.com/a-/a/a', null],
  ['-foo/bar', null],
  ['foo/bar-', null],
  ['foo-/bar', null],
  ['foo/-bar', null],
  ['_foo/bar', null],
  ['foo_bar', ['', 'foo_bar']],
  ['foo_bar.com', ['', 'foo_bar.com']],
  ['foo_bar.com:8080', null],
  ['foo_bar.com:8080/app', null],
  ['foo.com/foo_bar', ['foo.com', 'foo_bar']],
  ['____/____', null],
  ['_docker/_docker', null],
  ['docker_/docker_', null],
  ['b.gcr.io/test.example.com/my-app', ['b.gcr.io', 'test.example.com/my-app']],
  ['xn--n3h.com/myimage', ['xn--n3h.com', 'myimage']],
  ['xn--7o8h.com/myimage', ['xn--7o8h.com', 'myimage']],
  ['example.com/xn--7o8h.com/myimage', ['example.com', 'xn--7o8h.com/myimage']],
  ['example.com/some_separator__underscore/myimage', ['example.com', 'some_separator__underscore/myimage']],
  ['example.com/__underscore/myimage', null],
  ['example.com/..dots/myimage', null],
  ['example.com/.dots/myimage', null],
  ['example.com/nodouble..dots/myimage', null],
  ['docker./docker', null],
  ['.docker/docker', null],
  ['docker-/docker', null],
  ['-docker/docker', null],
  ['do..cker/docker', null],
  ['do__cker:8080/docker', null],
  ['do__cker/docker', ['', 'do__cker/docker']],
  [
    'registry.io/foo/project--id.module--name.ver---sion--name',
    ['registry.io', 'foo/project--id.module--name.ver---sion--name'],
  ],
  ['Asdf.com/foo/bar', ['Asdf.com', 'foo/bar']],
  ['Foo/FarB', null],
];

/** distribution regexp_test.go TestReferenceRegexp: the three captures name, tag, digest ('' when absent). */
export const referenceRegexpVectors: ReadonlyArray<
  readonly [input: string, subs: readonly [string, string, string] | null]
> = [
  ['registry.com:8080/myapp:tag', ['registry.com:8080/myapp', 'tag', '']],
  [`registry.com:8080/myapp@${BE17}`, ['registry.com:8080/myapp', '', BE17]],
  [`registry.com:8080/myapp:tag2@${BE17}`, ['registry.com:8080/myapp', 'tag2', BE17]],
  ['registry.com:8080/myapp@sha256:badbadbadbad', null],
  ['registry.com:8080/myapp:invalid~tag', null],
  ['bad_hostname.com:8080/myapp:tag', null],
  [`localhost:8080@${BE17}`, ['localhost', '8080', BE17]],
  [`localhost:8080/name@${BE17}`, ['localhost:8080/name', '', BE17]],
  [`localhost:http/name@${BE17}`, null],
  [`localhost@${BE17}`, ['localhost', '', BE17]],
  ['registry.com:8080/myapp@bad', null],
  ['registry.com:8080/myapp@2bad', null],
];

/** distribution regexp_test.go TestIdentifierRegexp. */
export const identifierVectors: ReadonlyArray<readonly [input: string, match: boolean]> = [
  ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821', true],
  ['7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C', false],
  ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf', false],
  ['sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821', false],
  ['da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482', false],
];

/** A reference that parses: what `parseReference` must return. */
export interface ParseVector {
  readonly input: string;
  /** `domain/path`, i.e. distribution's `Name()`. */
  readonly repository: string;
  readonly domain: string;
  readonly tag?: string;
  readonly digest?: string;
}

/**
 * distribution reference_test.go TestReferenceParse (valid cases) plus the serialization and go-containerregistry
 * vectors. `domain` follows docker's registry rule: where distribution's raw regexp capture would say `a` or `foo`
 * (a plain path segment), we say `''`.
 */
export const parseVectors: readonly ParseVector[] = [
  { input: 'test_com', repository: 'test_com', domain: '' },
  { input: 'test.com:tag', repository: 'test.com', domain: '', tag: 'tag' },
  { input: 'test.com:5000', repository: 'test.com', domain: '', tag: '5000' },
  { input: 'test.com/repo:tag', repository: 'test.com/repo', domain: 'test.com', tag: 'tag' },
  { input: 'test:5000/repo', repository: 'test:5000/repo', domain: 'test:5000' },
  { input: 'test:5000/repo:tag', repository: 'test:5000/repo', domain: 'test:5000', tag: 'tag' },
  { input: `test:5000/repo@${SHA256_F}`, repository: 'test:5000/repo', domain: 'test:5000', digest: SHA256_F },
  {
    input: `test:5000/repo:tag@${SHA256_F}`,
    repository: 'test:5000/repo',
    domain: 'test:5000',
    tag: 'tag',
    digest: SHA256_F,
  },
  { input: 'lowercase:Uppercase', repository: 'lowercase', domain: '', tag: 'Uppercase' },
  // distribution: domain "a" (raw regexp); docker treats `a` as a path segment.
  {
    input: `${'a/'.repeat(127)}a:tag-puts-this-over-max`,
    repository: `${'a/'.repeat(127)}a`,
    domain: '',
    tag: 'tag-puts-this-over-max',
  },
  { input: 'sub-dom1.foo.com/bar/baz/quux', repository: 'sub-dom1.foo.com/bar/baz/quux', domain: 'sub-dom1.foo.com' },
  {
    input: 'sub-dom1.foo.com/bar/baz/quux:some-long-tag',
    repository: 'sub-dom1.foo.com/bar/baz/quux',
    domain: 'sub-dom1.foo.com',
    tag: 'some-long-tag',
  },
  {
    input: 'b.gcr.io/test.example.com/my-app:test.example.com',
    repository: 'b.gcr.io/test.example.com/my-app',
    domain: 'b.gcr.io',
    tag: 'test.example.com',
  },
  {
    input: 'xn--n3h.com/myimage:xn--n3h.com',
    repository: 'xn--n3h.com/myimage',
    domain: 'xn--n3h.com',
    tag: 'xn--n3h.com',
  },
  {
    input: `xn--7o8h.com/myimage:xn--7o8h.com@${SHA512_F}`,
    repository: 'xn--7o8h.com/myimage',
    domain: 'xn--7o8h.com',
    tag: 'xn--7o8h.com',
    digest: SHA512_F,
  },
  { input: 'foo_bar.com:8080', repository: 'foo_bar.com', domain: '', tag: '8080' },
  // distribution: domain "foo" (raw regexp); docker treats `foo` as a path segment.
  { input: 'foo/foo_bar.com:8080', repository: 'foo/foo_bar.com', domain: '', tag: '8080' },
  { input: '192.168.1.1', repository: '192.168.1.1', domain: '' },
  { input: '192.168.1.1:tag', repository: '192.168.1.1', domain: '', tag: 'tag' },
  { input: '192.168.1.1:5000', repository: '192.168.1.1', domain: '', tag: '5000' },
  { input: '192.168.1.1/repo', repository: '192.168.1.1/repo', domain: '192.168.1.1' },
  { input: '192.168.1.1:5000/repo', repository: '192.168.1.1:5000/repo', domain: '192.168.1.1:5000' },
  { input: '192.168.1.1:5000/repo:5050', repository: '192.168.1.1:5000/repo', domain: '192.168.1.1:5000', tag: '5050' },
  { input: '[2001:db8::1]/repo', repository: '[2001:db8::1]/repo', domain: '[2001:db8::1]' },
  {
    input: '[2001:db8:1:2:3:4:5:6]/repo:tag',
    repository: '[2001:db8:1:2:3:4:5:6]/repo',
    domain: '[2001:db8:1:2:3:4:5:6]',
    tag: 'tag',
  },
  { input: '[2001:db8::1]:5000/repo', repository: '[2001:db8::1]:5000/repo', domain: '[2001:db8::1]:5000' },
  {
    input: '[2001:db8::1]:5000/repo:tag',
    repository: '[2001:db8::1]:5000/repo',
    domain: '[2001:db8::1]:5000',
    tag: 'tag',
  },
  {
    input: `[2001:db8::1]:5000/repo@${SHA256_F}`,
    repository: '[2001:db8::1]:5000/repo',
    domain: '[2001:db8::1]:5000',
    digest: SHA256_F,
  },
  {
    input: `[2001:db8::1]:5000/repo:tag@${SHA256_F}`,
    repository: '[2001:db8::1]:5000/repo',
    domain: '[2001:db8::1]:5000',
    tag: 'tag',
    digest: SHA256_F,
  },
  { input: '[2001:db8::]:5000/repo', repository: '[2001:db8::]:5000/repo', domain: '[2001:db8::]:5000' },
  { input: '[::1]:5000/repo', repository: '[::1]:5000/repo', domain: '[::1]:5000' },
  {
    input: `example.com/${'a'.repeat(255)}:tag`,
    repository: `example.com/${'a'.repeat(255)}`,
    domain: 'example.com',
    tag: 'tag',
  },
  // TestSerialization
  { input: 'example.com:8000/named', repository: 'example.com:8000/named', domain: 'example.com:8000' },
  {
    input: 'example.com:8000/named:tagged',
    repository: 'example.com:8000/named',
    domain: 'example.com:8000',
    tag: 'tagged',
  },
  {
    input: 'other.com/named@sha256:1234567890098765432112345667890098765432112345667890098765432112',
    repository: 'other.com/named',
    domain: 'other.com',
    digest: 'sha256:1234567890098765432112345667890098765432112345667890098765432112',
  },
  // TestDomainAndPath (WithName)
  { input: 'test.com/foo', repository: 'test.com/foo', domain: 'test.com' },
  { input: 'test_com/foo', repository: 'test_com/foo', domain: '' },
  { input: 'test:8080/foo', repository: 'test:8080/foo', domain: 'test:8080' },
  { input: 'test.com:8080/foo', repository: 'test.com:8080/foo', domain: 'test.com:8080' },
  { input: 'test-com:8080/foo', repository: 'test-com:8080/foo', domain: 'test-com:8080' },
  { input: 'xn--n3h.com:18080/foo', repository: 'xn--n3h.com:18080/foo', domain: 'xn--n3h.com:18080' },
  // Upper-case first segments are registries (distribution's FIXME case): valid, domain "Uppercase".
  { input: 'Uppercase/lowercase:tag', repository: 'Uppercase/lowercase', domain: 'Uppercase', tag: 'tag' },
  // the reference regexp vectors that match
  { input: `localhost:8080@${BE17}`, repository: 'localhost', domain: '', tag: '8080', digest: BE17 },
  { input: `localhost@${BE17}`, repository: 'localhost', domain: '', digest: BE17 },
  { input: 'localhost/testimage', repository: 'localhost/testimage', domain: 'localhost' },
  // go-containerregistry tag_test.go, digest_test.go, repository_test.go
  {
    input: 'gcr.io/g-convoy/hello-world:latest',
    repository: 'gcr.io/g-convoy/hello-world',
    domain: 'gcr.io',
    tag: 'latest',
  },
  {
    input: 'gcr.io/google.com/g-convoy/hello-world:latest',
    repository: 'gcr.io/google.com/g-convoy/hello-world',
    domain: 'gcr.io',
    tag: 'latest',
  },
  { input: 'gcr.io/project-id/with-nums:v2', repository: 'gcr.io/project-id/with-nums', domain: 'gcr.io', tag: 'v2' },
  {
    input: 'us.gcr.io/project-id/image:with.period.in.tag',
    repository: 'us.gcr.io/project-id/image',
    domain: 'us.gcr.io',
    tag: 'with.period.in.tag',
  },
  {
    input: 'gcr.io/project-id/image:w1th-alpha_num3ric.PLUScaps',
    repository: 'gcr.io/project-id/image',
    domain: 'gcr.io',
    tag: 'w1th-alpha_num3ric.PLUScaps',
  },
  {
    input: 'domain.with.port:9001/image:latest',
    repository: 'domain.with.port:9001/image',
    domain: 'domain.with.port:9001',
    tag: 'latest',
  },
  { input: 'namespace/pathcomponent/image', repository: 'namespace/pathcomponent/image', domain: '' },
  { input: 'library/ubuntu', repository: 'library/ubuntu', domain: '' },
  { input: 'gcr.io/project-id/implicit-latest', repository: 'gcr.io/project-id/implicit-latest', domain: 'gcr.io' },
  {
    input: 'www.example.test:12345/repo/path',
    repository: 'www.example.test:12345/repo/path',
    domain: 'www.example.test:12345',
  },
  {
    input: `gcr.io/g-convoy/hello-world@${DEADBEEF}`,
    repository: 'gcr.io/g-convoy/hello-world',
    domain: 'gcr.io',
    digest: DEADBEEF,
  },
  {
    input: `gcr.io/google.com/project-id/hello-world@${DEADBEEF}`,
    repository: 'gcr.io/google.com/project-id/hello-world',
    domain: 'gcr.io',
    digest: DEADBEEF,
  },
  {
    input: `us.gcr.io/project-id/sub-repo@${DEADBEEF}`,
    repository: 'us.gcr.io/project-id/sub-repo',
    domain: 'us.gcr.io',
    digest: DEADBEEF,
  },
  {
    input: `example.text/foo/bar@${DEADBEEF}`,
    repository: 'example.text/foo/bar',
    domain: 'example.text',
    digest: DEADBEEF,
  },
  {
    input: `example.text/foo/bar:latest@${DEADBEEF}`,
    repository: 'example.text/foo/bar',
    domain: 'example.text',
    tag: 'latest',
    digest: DEADBEEF,
  },
  {
    input: `example.text:8443/foo/bar:latest@${DEADBEEF}`,
    repository: 'example.text:8443/foo/bar',
    domain: 'example.text:8443',
    tag: 'latest',
    digest: DEADBEEF,
  },
  {
    input: `example.text/foo/bar:v1.0.0-alpine@${DEADBEEF}`,
    repository: 'example.text/foo/bar',
    domain: 'example.text',
    tag: 'v1.0.0-alpine',
    digest: DEADBEEF,
  },
  {
    input: `namespace/pathcomponent/image@${DEADBEEF}`,
    repository: 'namespace/pathcomponent/image',
    domain: '',
    digest: DEADBEEF,
  },
  { input: `library/ubuntu@${DEADBEEF}`, repository: 'library/ubuntu', domain: '', digest: DEADBEEF },
  { input: `nginx:latest@${DEADBEEF}`, repository: 'nginx', domain: '', tag: 'latest', digest: DEADBEEF },
  {
    input: `library/nginx:latest@${DEADBEEF}`,
    repository: 'library/nginx',
    domain: '',
    tag: 'latest',
    digest: DEADBEEF,
  },
  { input: 'gcr.io/g-convoy/hello-world', repository: 'gcr.io/g-convoy/hello-world', domain: 'gcr.io' },
  {
    input: 'gcr.io/google.com/project-id/hello-world',
    repository: 'gcr.io/google.com/project-id/hello-world',
    domain: 'gcr.io',
  },
  { input: 'us.gcr.io/project-id/sub-repo', repository: 'us.gcr.io/project-id/sub-repo', domain: 'us.gcr.io' },
  { input: 'example.text/foo/bar', repository: 'example.text/foo/bar', domain: 'example.text' },
  { input: 'mirror.gcr.io/ubuntu', repository: 'mirror.gcr.io/ubuntu', domain: 'mirror.gcr.io' },
  { input: 'index.docker.io/library/ubuntu', repository: 'index.docker.io/library/ubuntu', domain: 'index.docker.io' },
  { input: 'example.com/a', repository: 'example.com/a', domain: 'example.com' },
  { input: 'example.com/a/b', repository: 'example.com/a/b', domain: 'example.com' },
  { input: 'ubuntu', repository: 'ubuntu', domain: '' },
  { input: 'a', repository: 'a', domain: '' },
  { input: '0', repository: '0', domain: '' },
];

/** A string `parseReference` rejects, with docker's message and the error code. */
export interface RejectVector {
  readonly input: string;
  readonly message: string;
  readonly code?: 'NAME_INVALID' | 'DIGEST_INVALID';
}

const FORMAT = 'invalid reference format';
const TOO_LONG = 'repository name must not be more than 255 characters';

/** distribution reference_test.go TestReferenceParse / TestWithNameFailure (error cases) and go-containerregistry. */
export const rejectVectors: readonly RejectVector[] = [
  { input: '', message: 'repository name must have at least one component' },
  { input: ':justtag', message: FORMAT },
  { input: `@${SHA256_F}`, message: FORMAT },
  {
    input: 'repo@sha256:ffffffffffffffffffffffffffffffffff',
    message: 'invalid checksum digest length',
    code: 'DIGEST_INVALID',
  },
  { input: `validname@invaliddigest:${F64}`, message: 'unsupported digest algorithm', code: 'DIGEST_INVALID' },
  { input: 'Uppercase:tag', message: 'repository name must be lowercase' },
  { input: 'test:5000/Uppercase/lowercase:tag', message: 'repository name must be lowercase' },
  { input: `domain/${'a'.repeat(256)}:tag`, message: TOO_LONG },
  { input: `example.com/${'a'.repeat(256)}`, message: TOO_LONG },
  // An older distribution vector; docker rejects it too, as its normalized path (docker.io/a/a/…) is 257 long.
  { input: `${'a/'.repeat(128)}a:tag`, message: TOO_LONG },
  { input: 'aa/asdf$$^/aa', message: FORMAT },
  { input: '[2001:db8::1]', message: FORMAT },
  { input: '[2001:db8::1]:5000', message: FORMAT },
  { input: '[2001:db8::1]:tag', message: FORMAT },
  { input: '[fe80::1%eth0]:5000/repo', message: FORMAT },
  { input: '[fe80::1%@invalidzone]:5000/repo', message: FORMAT },
  { input: 'registry.com:8080/myapp@sha256:badbadbadbad', message: FORMAT },
  { input: 'registry.com:8080/myapp:invalid~tag', message: FORMAT },
  { input: 'bad_hostname.com:8080/myapp:tag', message: FORMAT },
  { input: `localhost:http/name@${BE17}`, message: FORMAT },
  { input: 'registry.com:8080/myapp@bad', message: FORMAT },
  { input: 'registry.com:8080/myapp@2bad', message: FORMAT },
  // go-containerregistry bad names
  { input: "gcr.io/project-id/bad_chars:c@n'tuse", message: FORMAT },
  { input: 'gcr.io/project-id/wrong-length:white space', message: FORMAT },
  {
    input:
      'gcr.io/project-id/too-many-chars:thisisthetagthatneverendsitgoesonandonmyfriendsomepeoplestartedtaggingitnotknowingwhatitwasandtheyllcontinuetaggingitforeverjustbecausethisisthetagthatneverends',
    message: FORMAT,
  },
  { input: 'gcr.io/project-id/unknown-alg@unknown:abc123', message: FORMAT },
  { input: 'gcr.io/project-id/wrong-length@sha256:d34db33fd34db33f', message: FORMAT },
  { input: 'gcr.io/project-id/missing-digest@', message: FORMAT },
  { input: 'white space', message: FORMAT },
  { input: 'b@char/image', message: FORMAT },
  // digests of the right shape that go-digest refuses
  { input: `repo@sha256:${'F'.repeat(64)}`, message: 'invalid checksum digest format', code: 'DIGEST_INVALID' },
  { input: `repo@sha512:${F64}`, message: 'invalid checksum digest length', code: 'DIGEST_INVALID' },
  { input: `repo@SHA256:${F64}`, message: 'invalid checksum digest format', code: 'DIGEST_INVALID' },
];

/** distribution normalize_test.go TestValidateReferenceName + TestValidateRemoteName: `ParseNormalizedNamed` accepts. */
export const normalizeValid: readonly string[] = [
  'docker/docker',
  'library/debian',
  'debian',
  'docker.io/docker/docker',
  'docker.io/library/debian',
  'docker.io/debian',
  'index.docker.io/docker/docker',
  'index.docker.io/library/debian',
  'index.docker.io/debian',
  '127.0.0.1:5000/docker/docker',
  '127.0.0.1:5000/library/debian',
  '127.0.0.1:5000/debian',
  '192.168.0.1',
  '192.168.0.1:80',
  '192.168.0.1:8/debian',
  '192.168.0.2:25000/debian',
  'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  '[fc00::1]:5000/docker',
  '[fc00::1]:5000/docker/docker',
  '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
  'docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
  'Docker/docker',
  'DOCKER/docker',
  'docker-rules/docker',
  'docker---rules/docker',
  'doc/docker',
  'd/docker',
  'jess/t',
  'dock__er/docker',
];

/** The same tests' invalid names: `ParseNormalizedNamed` rejects them (with these messages). */
export const normalizeInvalid: ReadonlyArray<readonly [input: string, message: string]> = [
  ['https://github.com/docker/docker', FORMAT],
  ['docker/Docker', 'invalid reference format: repository name (docker/Docker) must be lowercase'],
  ['-docker', FORMAT],
  ['-docker/docker', FORMAT],
  ['-docker.io/docker/docker', FORMAT],
  ['docker///docker', FORMAT],
  ['docker.io/docker/Docker', 'invalid reference format: repository name (docker/Docker) must be lowercase'],
  ['docker.io/docker///docker', FORMAT],
  ['[fc00::1]', FORMAT],
  ['[fc00::1]:5000', FORMAT],
  ['fc00::1:5000/debian', FORMAT],
  ['[fe80::1%eth0]:5000/debian', FORMAT],
  ['[2001:db8:3:4::192.0.2.33]:5000/debian', FORMAT],
  [
    '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
    'invalid repository name (1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a), cannot specify 64-byte hexadecimal strings',
  ],
  ['docker-/docker', FORMAT],
  ['-docker-/docker', FORMAT],
  ['____/____', FORMAT],
  ['_docker/_docker', FORMAT],
  ['dock..er/docker', FORMAT],
  ['dock_.er/docker', FORMAT],
  ['dock-.er/docker', FORMAT],
  ['docker/', FORMAT],
  [
    'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255/docker',
    TOO_LONG,
  ],
  ['', FORMAT],
  ['Ubuntu', 'invalid reference format: repository name (library/Ubuntu) must be lowercase'],
  ['-foo', FORMAT],
];

/** distribution normalize_test.go TestParseRepositoryInfo: every spelling normalizes to the same repository. */
export interface RepositoryInfoVector {
  readonly path: string;
  readonly familiar: string;
  readonly full: string;
  readonly ambiguous?: string;
  readonly domain: string;
}

export const repositoryInfoVectors: readonly RepositoryInfoVector[] = [
  {
    path: 'fooo/bar',
    familiar: 'fooo/bar',
    full: 'docker.io/fooo/bar',
    ambiguous: 'index.docker.io/fooo/bar',
    domain: 'docker.io',
  },
  {
    path: 'library/ubuntu',
    familiar: 'ubuntu',
    full: 'docker.io/library/ubuntu',
    ambiguous: 'library/ubuntu',
    domain: 'docker.io',
  },
  {
    path: 'nonlibrary/ubuntu',
    familiar: 'nonlibrary/ubuntu',
    full: 'docker.io/nonlibrary/ubuntu',
    domain: 'docker.io',
  },
  { path: 'other/library', familiar: 'other/library', full: 'docker.io/other/library', domain: 'docker.io' },
  {
    path: 'private/moonbase',
    familiar: '127.0.0.1:8000/private/moonbase',
    full: '127.0.0.1:8000/private/moonbase',
    domain: '127.0.0.1:8000',
  },
  {
    path: 'privatebase',
    familiar: '127.0.0.1:8000/privatebase',
    full: '127.0.0.1:8000/privatebase',
    domain: '127.0.0.1:8000',
  },
  {
    path: 'private/moonbase',
    familiar: 'example.com/private/moonbase',
    full: 'example.com/private/moonbase',
    domain: 'example.com',
  },
  { path: 'privatebase', familiar: 'example.com/privatebase', full: 'example.com/privatebase', domain: 'example.com' },
  {
    path: 'private/moonbase',
    familiar: 'example.com:8000/private/moonbase',
    full: 'example.com:8000/private/moonbase',
    domain: 'example.com:8000',
  },
  {
    path: 'privatebasee',
    familiar: 'example.com:8000/privatebasee',
    full: 'example.com:8000/privatebasee',
    domain: 'example.com:8000',
  },
  {
    path: 'library/ubuntu-12.04-base',
    familiar: 'ubuntu-12.04-base',
    full: 'docker.io/library/ubuntu-12.04-base',
    ambiguous: 'index.docker.io/library/ubuntu-12.04-base',
    domain: 'docker.io',
  },
  {
    path: 'library/foo',
    familiar: 'foo',
    full: 'docker.io/library/foo',
    ambiguous: 'docker.io/foo',
    domain: 'docker.io',
  },
  { path: 'library/foo/bar', familiar: 'library/foo/bar', full: 'docker.io/library/foo/bar', domain: 'docker.io' },
  { path: 'store/foo/bar', familiar: 'store/foo/bar', full: 'docker.io/store/foo/bar', domain: 'docker.io' },
  { path: 'bar', familiar: 'Foo/bar', full: 'Foo/bar', domain: 'Foo' },
  { path: 'bar', familiar: 'FOO/bar', full: 'FOO/bar', domain: 'FOO' },
];

/**
 * distribution normalize_test.go TestParseAnyReference (name cases) and TestParseReferenceWithTagAndDigest:
 * input → normalized string without a default tag.
 */
export const equivalentVectors: ReadonlyArray<readonly [input: string, normalized: string]> = [
  ['redis', 'docker.io/library/redis'],
  ['redis:latest', 'docker.io/library/redis:latest'],
  ['docker.io/library/redis:latest', 'docker.io/library/redis:latest'],
  [`redis@sha256:${DBCC}`, `docker.io/library/redis@sha256:${DBCC}`],
  [`docker.io/library/redis@sha256:${DBCC}`, `docker.io/library/redis@sha256:${DBCC}`],
  ['dmcgowan/myapp', 'docker.io/dmcgowan/myapp'],
  ['dmcgowan/myapp:latest', 'docker.io/dmcgowan/myapp:latest'],
  ['docker.io/mcgowan/myapp:latest', 'docker.io/mcgowan/myapp:latest'],
  [`dmcgowan/myapp@sha256:${DBCC}`, `docker.io/dmcgowan/myapp@sha256:${DBCC}`],
  [`docker.io/dmcgowan/myapp@sha256:${DBCC}`, `docker.io/dmcgowan/myapp@sha256:${DBCC}`],
  [DBCC.slice(0, 63), `docker.io/library/${DBCC.slice(0, 63)}`],
  ['dbcc1', 'docker.io/library/dbcc1'],
  [
    'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa',
    'docker.io/library/busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa',
  ],
];

/** distribution normalize_test.go TestNormalizedSplitHostname: input → domain and path after normalization. */
export const normalizedSplitVectors: ReadonlyArray<readonly [input: string, domain: string, path: string]> = [
  ['test.com/foo', 'test.com', 'foo'],
  ['test_com/foo', 'docker.io', 'test_com/foo'],
  ['docker/migrator', 'docker.io', 'docker/migrator'],
  ['test.com:8080/foo', 'test.com:8080', 'foo'],
  ['test-com:8080/foo', 'test-com:8080', 'foo'],
  ['foo', 'docker.io', 'library/foo'],
  ['xn--n3h.com/foo', 'xn--n3h.com', 'foo'],
  ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo'],
  ['docker.io/foo', 'docker.io', 'library/foo'],
  ['docker.io/library/foo', 'docker.io', 'library/foo'],
  ['docker.io/library/foo/bar', 'docker.io', 'library/foo/bar'],
  ['localhost/testimage', 'localhost', 'testimage'],
  ['localhost:5000/app', 'localhost:5000', 'app'],
  ['[::1]:5000/app', '[::1]:5000', 'app'],
];

/**
 * distribution reference_test.go TestParseNamed: strings already in canonical (normalized, no default tag) form
 * are unchanged by normalization; the others are not.
 */
export const canonicalVectors: ReadonlyArray<readonly [input: string, canonical: boolean]> = [
  ['test.com/foo', true],
  ['test:8080/foo', true],
  ['test_com/foo', false],
  ['test.com', false],
  ['foo', false],
  ['library/foo', false],
  ['docker.io/library/foo', true],
  ['docker.io/foo', false],
];

/** distribution reference_test.go TestWithTag / TestWithDigest (with full-length digests: we validate them). */
export const withTagVectors: ReadonlyArray<
  readonly [name: string, tag: string, digest: string | undefined, combined: string]
> = [
  ['test.com/foo', 'tag', undefined, 'test.com/foo:tag'],
  ['foo', 'tag2', undefined, 'foo:tag2'],
  ['test.com:8000/foo', 'tag4', undefined, 'test.com:8000/foo:tag4'],
  ['test.com:8000/foo', 'TAG5', undefined, 'test.com:8000/foo:TAG5'],
  ['test.com:8000/foo', 'TAG5', DEADBEEF, `test.com:8000/foo:TAG5@${DEADBEEF}`],
];

export const withDigestVectors: ReadonlyArray<
  readonly [name: string, digest: string, tag: string | undefined, combined: string]
> = [
  ['test.com/foo', DEADBEEF, undefined, `test.com/foo@${DEADBEEF}`],
  ['foo', DEADBEEF, undefined, `foo@${DEADBEEF}`],
  ['test.com:8000/foo', DEADBEEF, undefined, `test.com:8000/foo@${DEADBEEF}`],
  ['test.com:8000/foo', DEADBEEF, 'latest', `test.com:8000/foo:latest@${DEADBEEF}`],
];
