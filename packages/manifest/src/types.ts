import type { Digest } from '@lade/digest';
import type { Descriptor, Platform } from './transport.js';

/** Annotations: string keys to string values. */
export type Annotations = Readonly<Record<string, string>>;

/** An OCI image manifest or a Docker v2.2 manifest (same shape; `mediaType` tells them apart). */
export interface ImageManifest {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Annotations;
}

/** An OCI image index or a Docker manifest list. */
export interface ImageIndex {
  readonly schemaVersion: 2;
  readonly mediaType?: string;
  readonly artifactType?: string;
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  readonly annotations?: Annotations;
}

/** The container defaults of an image config (`config` in the JSON), as docker and the OCI spec define them. */
export interface ContainerConfig {
  readonly User?: string;
  readonly ExposedPorts?: Readonly<Record<string, Readonly<Record<string, never>>>> | null;
  readonly Env?: readonly string[] | null;
  readonly Entrypoint?: readonly string[] | null;
  readonly Cmd?: readonly string[] | null;
  readonly Volumes?: Readonly<Record<string, Readonly<Record<string, never>>>> | null;
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly StopSignal?: string;
  readonly ArgsEscaped?: boolean;
  readonly Healthcheck?: {
    readonly Test?: readonly string[];
    readonly Interval?: number;
    readonly Timeout?: number;
    readonly StartPeriod?: number;
    readonly StartInterval?: number;
    readonly Retries?: number;
  };
  readonly OnBuild?: readonly string[] | null;
  readonly Shell?: readonly string[] | null;
  /** Docker writes more fields (Hostname, Tty, …); they are kept as they are. */
  readonly [key: string]: unknown;
}

/** One entry of an image's history. */
export interface HistoryEntry {
  readonly created?: string;
  readonly created_by?: string;
  readonly author?: string;
  readonly comment?: string;
  /** True when the step made no layer (ENV, CMD, …): it has no `rootfs.diff_ids` entry. */
  readonly empty_layer?: boolean;
}

/** An image configuration (OCI `application/vnd.oci.image.config.v1+json` or Docker's container image v1). */
export interface ImageConfig {
  readonly architecture: string;
  readonly os: string;
  readonly variant?: string;
  readonly 'os.version'?: string;
  readonly 'os.features'?: readonly string[];
  readonly created?: string;
  readonly author?: string;
  readonly config?: ContainerConfig;
  readonly rootfs: { readonly type: 'layers'; readonly diff_ids: readonly Digest[] };
  readonly history?: readonly HistoryEntry[];
  /** Docker writes more fields (container, docker_version, …); they are kept as they are. */
  readonly [key: string]: unknown;
}

/** A parsed image manifest with its exact bytes and identity. */
export interface ParsedImageManifest {
  readonly kind: 'manifest';
  /** The media type in the body, else the one the caller was given, else OCI's. */
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly manifest: ImageManifest;
}

/** A parsed index or manifest list with its exact bytes and identity. */
export interface ParsedImageIndex {
  readonly kind: 'index';
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly index: ImageIndex;
}

/** What {@link parseManifest} returns: a manifest or an index, told apart by `kind`. */
export type ParsedManifest = ParsedImageManifest | ParsedImageIndex;

/** A parsed image config; `digest` is the image ID. */
export interface ParsedImageConfig {
  readonly digest: Digest;
  readonly size: number;
  readonly bytes: Uint8Array;
  readonly config: ImageConfig;
}

export type { Descriptor, Platform };
