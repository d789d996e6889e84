/** Media types the registry recognises when it validates and serves manifests. */
export const MediaTypes = Object.freeze({
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
});

/** distribution's limit on manifest size (4 MiB). */
export const MAX_MANIFEST_SIZE = 4 * 1024 * 1024;

// distribution/reference: path components of lower-case alphanumerics joined by separators, components joined by '/'.
const component = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const namePattern = new RegExp(`^${component}(?:/${component})*$`);
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const uploadIdPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** True for a valid repository name (at most 255 characters). */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && namePattern.test(name);
}

/** True for a valid tag. */
export function isTag(tag: string): boolean {
  return tagPattern.test(tag);
}

/** True for a valid upload session id (the registry issues UUIDs; anything else is refused). */
export function isUploadId(id: string): boolean {
  return uploadIdPattern.test(id);
}
