import { UsageError } from './errors.js';

/**
 * Where an image lives, as skopeo names it: `docker://REF`, `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
 * `docker-archive:FILE[:NAME:TAG]`, and lade's own store as `lade:NAME` or a plain `NAME[:TAG]`.
 */
export type ImageLocation =
  | { readonly transport: 'docker'; readonly reference: string }
  | { readonly transport: 'oci'; readonly path: string; readonly reference?: string }
  | { readonly transport: 'oci-archive'; readonly path: string; readonly reference?: string }
  | { readonly transport: 'docker-archive'; readonly path: string; readonly reference?: string }
  | { readonly transport: 'lade'; readonly reference: string };

const known = ['docker', 'oci', 'oci-archive', 'docker-archive', 'lade'] as const;
// skopeo's other transports: named so the error can say they exist but lade does not speak them.
const unsupported = ['dir', 'containers-storage', 'docker-daemon', 'ostree', 'sif', 'tarball'];

function splitPath(rest: string): { path: string; reference?: string } {
  // Like containers/image: the path ends at the first ':' (paths with ':' cannot be named).
  const colon = rest.indexOf(':');
  if (colon < 0) return { path: rest };
  const reference = rest.slice(colon + 1);
  return reference === '' ? { path: rest.slice(0, colon) } : { path: rest.slice(0, colon), reference };
}

/**
 * Parses a transport-qualified image name. A name without a known transport prefix is the local store.
 * @throws UsageError `Invalid image name "x", unknown transport "y"` (skopeo's wording) for a transport lade lacks
 */
export function parseImageLocation(text: string): ImageLocation {
  const colon = text.indexOf(':');
  const prefix = colon > 0 ? text.slice(0, colon) : '';
  const rest = text.slice(colon + 1);
  if ((known as readonly string[]).includes(prefix)) {
    switch (prefix) {
      case 'docker':
        if (!rest.startsWith('//'))
          throw new UsageError(
            `Invalid image name "${text}": docker: image reference ${rest} does not start with "//"`,
          );
        if (rest.length === 2) throw new UsageError(`Invalid image name "${text}": docker: the reference is empty`);
        return { transport: 'docker', reference: rest.slice(2) };
      case 'lade':
        if (rest === '') throw new UsageError(`Invalid image name "${text}": lade: the reference is empty`);
        return { transport: 'lade', reference: rest };
      default: {
        const { path, reference } = splitPath(rest);
        if (path === '') throw new UsageError(`Invalid image name "${text}": ${prefix}: the path is empty`);
        const transport = prefix as 'oci' | 'oci-archive' | 'docker-archive';
        return reference === undefined ? { transport, path } : { transport, path, reference };
      }
    }
  }
  if (unsupported.includes(prefix)) {
    throw new UsageError(
      `Invalid image name "${text}", transport "${prefix}" is not supported by lade (use docker://, oci:, oci-archive:, docker-archive: or the local store)`,
    );
  }
  return { transport: 'lade', reference: text };
}

/** The text of a location, as skopeo prints it. */
export function formatImageLocation(location: ImageLocation): string {
  switch (location.transport) {
    case 'docker':
      return `docker://${location.reference}`;
    case 'lade':
      return `lade:${location.reference}`;
    default:
      return `${location.transport}:${location.path}${location.reference === undefined ? '' : `:${location.reference}`}`;
  }
}
