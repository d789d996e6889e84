import { type Digest, isDigest } from '@lade/digest';
import { familiarName, familiarString, formatReference, normalizeReference, repositoryName } from '@lade/reference';
import { NameInvalidError } from './errors.js';

/** An image name as the store keeps it: normalized, with its familiar forms. */
export interface ImageName {
  /** `docker.io/library/alpine:3.19` (or `…@sha256:…` for a digest reference). */
  readonly full: string;
  /** `docker.io/library/alpine` */
  readonly repository: string;
  /** `alpine` — what `docker images` shows as REPOSITORY. */
  readonly familiarRepository: string;
  /** `alpine:3.19` — what docker prints in RepoTags and what the store writes as `org.opencontainers.image.ref.name`. */
  readonly familiar: string;
  readonly tag?: string;
  readonly digest?: Digest;
}

/** Parses and normalizes an image name (`alpine` → `docker.io/library/alpine:latest`); throws NAME_INVALID. */
export function parseImageName(input: string): ImageName {
  let ref: ReturnType<typeof normalizeReference>;
  try {
    ref = normalizeReference(input);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new NameInvalidError(`${msg}: "${input}"`, { cause: err, detail: { input } });
  }
  if (ref.digest !== undefined && !isDigest(ref.digest)) {
    throw new NameInvalidError(`unsupported digest in "${input}": lade stores sha256 and sha512 digests only`, {
      detail: { input },
    });
  }
  const full = formatReference(ref);
  return {
    full,
    repository: repositoryName(ref),
    familiarRepository: familiarName(ref),
    familiar: familiarString(ref),
    ...(ref.tag !== undefined ? { tag: ref.tag } : {}),
    ...(ref.digest !== undefined ? { digest: ref.digest as Digest } : {}),
  };
}

/** Like {@link parseImageName} but undefined instead of an error. */
export function tryParseImageName(input: string): ImageName | undefined {
  try {
    return parseImageName(input);
  } catch {
    return undefined;
  }
}
