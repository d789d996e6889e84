import { MAX_MANIFEST_SIZE, MediaType } from '@lade/manifest';
import { isValidPath, isValidTag, REPOSITORY_NAME_MAX_LENGTH } from '@lade/reference';

/** Media types the registry recognises when it validates and serves manifests (from @lade/manifest). */
export const MediaTypes = Object.freeze({
  ociManifest: MediaType.OCI_MANIFEST,
  ociIndex: MediaType.OCI_INDEX,
  dockerManifest: MediaType.DOCKER_MANIFEST,
  dockerManifestList: MediaType.DOCKER_MANIFEST_LIST,
  dockerSchema1: MediaType.DOCKER_SCHEMA1_MANIFEST,
  dockerSchema1Signed: MediaType.DOCKER_SCHEMA1_SIGNED,
  dockerConfig: MediaType.DOCKER_CONFIG,
  ociEmpty: MediaType.OCI_EMPTY,
});

/** distribution's limit on manifest size (4 MiB), as @lade/manifest defines it. */
export { MAX_MANIFEST_SIZE };

const uploadIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** True for a valid repository name: distribution's path grammar (from @lade/reference), at most 255 characters. */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= REPOSITORY_NAME_MAX_LENGTH && isValidPath(name);
}

/** True for a valid tag. */
export function isTag(tag: string): boolean {
  return isValidTag(tag);
}

/** True for a valid upload session id (the registry issues UUIDs; anything else is refused). */
export function isUploadId(id: string): boolean {
  return uploadIdPattern.test(id);
}
