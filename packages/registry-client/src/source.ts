import { hash, SizeInvalidError } from '@lade/digest';
import type {
  Descriptor,
  ImageSink,
  ImageSource,
  OpenBlobOptions,
  TransportOptions,
  WriteBlobOptions,
  WriteManifestOptions,
} from '@lade/manifest';
import { normalizeReference, type Reference } from '@lade/reference';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { RegistryConnectionError, RegistryError, RegistryProtocolError, RegistryUsageError } from './errors.js';
import type { Registry } from './registry.js';

/** Options of {@link registrySource} and {@link registrySink}. */
export interface RegistryTransportOptions extends RegistryClientOptions {
  /** A client to share (its pools and tokens); otherwise the source/sink makes one and closes it in `close()`. */
  readonly client?: RegistryClient;
}

/** Where a registry source or sink points: the registry host, the repository and the tag or digest. */
export interface RegistryLocation {
  /** The domain as the reference names it (`docker.io`, `127.0.0.1:5000`). */
  readonly domain: string;
  /** The repository path (`library/alpine`). */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** Parses and normalizes a reference (`alpine`, `127.0.0.1:5000/app:1`, `docker://…`) into a {@link RegistryLocation}. */
export function registryLocation(ref: string | Reference): RegistryLocation {
  const input = typeof ref === 'string' ? ref.replace(/^docker:\/\//, '') : ref;
  const n = normalizeReference(input);
  return {
    domain: n.domain,
    repository: n.path,
    ...(n.tag !== undefined ? { tag: n.tag } : {}),
    ...(n.digest !== undefined ? { digest: n.digest } : {}),
  };
}

function displayName(loc: RegistryLocation): string {
  return `docker://${loc.domain}/${loc.repository}${loc.tag !== undefined ? `:${loc.tag}` : ''}${loc.digest !== undefined ? `@${loc.digest}` : ''}`;
}

// Which registry and repository a source reads, so a sink on the same registry can mount from it.
const sourceOrigins = new WeakMap<object, { readonly endpoint: string; readonly repository: string }>();

/** An {@link ImageSource} on a registry, with what the CLI needs to print: the location and the resolved root. */
export interface RegistryImageSource extends ImageSource {
  readonly location: RegistryLocation;
  /** The registry answering (a mirror, once one served the image). */
  readonly registry: Registry;
}

/**
 * A registry as an {@link ImageSource} (`docker://`): resolves the reference's tag or digest (through Docker Hub
 * mirrors first, when configured), fetches manifests verified against their digests, streams blobs with transparent
 * `Range` resume.
 *
 * @example
 * const src = registrySource('127.0.0.1:5000/fixtures/multi:latest');
 * const { root } = await copy(src, store.sink('multi:latest'), { platform: 'linux/arm64' });
 * await src.close?.();
 */
export function registrySource(ref: string | Reference, options: RegistryTransportOptions = {}): RegistryImageSource {
  const loc = registryLocation(ref);
  const client = options.client ?? new RegistryClient(options);
  const owns = options.client === undefined;
  const endpoints = client.pullEndpoints(loc.domain);
  let active = endpoints.length - 1;
  const repo = loc.repository;

  // Runs an operation on the endpoint that served the image, falling back along the mirror list on failure.
  const attempt = async <T>(op: (r: Registry) => Promise<T>, fromResolve: boolean): Promise<T> => {
    const order = fromResolve
      ? endpoints.map((_, i) => i)
      : [active, ...endpoints.map((_, i) => i).filter((i) => i !== active)];
    let last: unknown;
    for (const i of order) {
      try {
        const out = await op(endpoints[i]!);
        active = i;
        return out;
      } catch (e) {
        last = e;
        const isLastResort = i === endpoints.length - 1;
        if (isLastResort || !(e instanceof RegistryError || e instanceof RegistryConnectionError)) throw e;
      }
    }
    throw last;
  };

  const source: RegistryImageSource = {
    name: displayName(loc),
    location: loc,
    get registry() {
      return endpoints[active]!;
    },
    async resolve(opts: TransportOptions = {}) {
      const reference = loc.digest ?? loc.tag ?? 'latest';
      return attempt((r) => r.resolve(repo, reference, opts.signal ? { signal: opts.signal } : {}), true);
    },
    async fetchManifest(descriptor: Descriptor, opts: TransportOptions = {}) {
      const { bytes } = await attempt(
        (r) => r.getManifest(repo, descriptor.digest, opts.signal ? { signal: opts.signal } : {}),
        false,
      );
      if (descriptor.size >= 0 && bytes.byteLength !== descriptor.size) {
        throw new SizeInvalidError(
          `manifest ${descriptor.digest} of ${loc.domain}/${repo}: ${bytes.byteLength} bytes, the descriptor says ${descriptor.size}`,
        );
      }
      return bytes;
    },
    async openBlob(descriptor: Descriptor, opts: OpenBlobOptions = {}) {
      return attempt(
        (r) =>
          r.openBlob(repo, descriptor, {
            ...(opts.offset !== undefined ? { offset: opts.offset } : {}),
            ...(opts.signal ? { signal: opts.signal } : {}),
          }),
        false,
      );
    },
    async close() {
      if (owns) await client.close();
    },
  };
  sourceOrigins.set(source, { endpoint: endpoints[endpoints.length - 1]!.endpoint, repository: repo });
  return source;
}

/** An {@link ImageSink} on a registry, with the location it pushes to. */
export interface RegistryImageSink extends ImageSink {
  readonly location: RegistryLocation;
  readonly registry: Registry;
}

/**
 * A registry as an {@link ImageSink} (`docker://`): blobs are checked with `HEAD`, mounted from a source on the same
 * registry, else uploaded (whole or chunked, with resume); manifests are pushed with their exact bytes, children by
 * digest and the root under the reference's tag (or digest).
 *
 * @example
 * const sink = registrySink('127.0.0.1:5000/team/app:1');
 * const { root } = await copy(store.source('app:1'), sink, { all: true });
 */
export function registrySink(ref: string | Reference, options: RegistryTransportOptions = {}): RegistryImageSink {
  const loc = registryLocation(ref);
  const client = options.client ?? new RegistryClient(options);
  const owns = options.client === undefined;
  const registry = client.registry(loc.domain);
  const repo = loc.repository;
  const sig = (o: TransportOptions) => (o.signal ? { signal: o.signal } : {});

  return {
    name: displayName(loc),
    location: loc,
    registry,
    async hasBlob(descriptor: Descriptor, opts: TransportOptions = {}) {
      return (
        (await registry.headBlob(repo, descriptor.digest, {
          ...sig(opts),
          scopes: [`repository:${repo}:pull,push`],
        })) !== undefined
      );
    },
    async writeBlob(descriptor: Descriptor, content: ReadableStream<Uint8Array>, opts: WriteBlobOptions = {}) {
      await registry.uploadBlob(repo, descriptor, content, {
        ...sig(opts),
        skipExistsCheck: true,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    },
    async mountBlob(descriptor: Descriptor, source: ImageSource, opts: TransportOptions = {}) {
      const origin = sourceOrigins.get(source);
      if (!origin || origin.endpoint !== registry.endpoint) return false;
      if (origin.repository === repo) return this.hasBlob(descriptor, opts);
      return registry.mountBlob(repo, descriptor.digest, origin.repository, sig(opts));
    },
    async hasManifest(descriptor: Descriptor, opts: TransportOptions = {}) {
      return (await registry.headManifest(repo, descriptor.digest, sig(opts))) !== undefined;
    },
    async writeManifest(descriptor: Descriptor, bytes: Uint8Array, opts: WriteManifestOptions = {}) {
      const digest = hash(bytes);
      if (digest !== descriptor.digest) {
        throw new RegistryProtocolError(
          'DIGEST_INVALID',
          `manifest ${descriptor.digest}: its bytes hash to ${digest}; not pushed to ${loc.domain}/${repo}`,
        );
      }
      let reference: string = digest;
      if (opts.root) {
        if (loc.digest !== undefined && loc.digest !== digest) {
          throw new RegistryUsageError(
            'DIGEST_INVALID',
            `cannot push ${digest} to ${displayName(loc)}: the reference pins another digest`,
          );
        }
        if (loc.tag !== undefined) reference = loc.tag;
      }
      await registry.putManifest(repo, reference, bytes, descriptor.mediaType, sig(opts));
    },
    async close() {
      if (owns) await client.close();
    },
  };
}
