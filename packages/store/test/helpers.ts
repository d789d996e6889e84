import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  buildConfig,
  buildIndex,
  buildManifest,
  type Descriptor,
  type HistoryEntry,
  MediaType,
  type MemoryImageStore,
  type Platform,
} from '@lade/manifest';
import { repoRoot } from '@lade/test-support';

const enc = new TextEncoder();

/** Bytes as a one-chunk web stream. */
export function streamOf(...chunks: (Uint8Array | string)[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const x of chunks) c.enqueue(typeof x === 'string' ? enc.encode(x) : x);
      c.close();
    },
  });
}

/** A stream that yields `bytes` and then errors (a connection dropped mid-blob). */
export function failingStream(bytes: Uint8Array, error: Error): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (!sent) {
        sent = true;
        c.enqueue(bytes);
      } else c.error(error);
    },
  });
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new TextDecoder().decode(new Uint8Array(await new Response(stream).arrayBuffer()));
}

export interface TestImageInput {
  readonly tag: string;
  /** Layer contents (any bytes; the store never looks inside). */
  readonly layers: readonly string[];
  readonly created?: string;
  readonly labels?: Record<string, string>;
  readonly platform?: Platform;
  readonly history?: readonly HistoryEntry[];
  readonly format?: 'oci' | 'v2s2';
  readonly author?: string;
}

/** Builds a small image into a MemoryImageStore under `tag` (a source for copy). */
export function putTestImage(
  mem: MemoryImageStore,
  input: TestImageInput,
): { manifest: Descriptor; config: Descriptor; layers: Descriptor[] } {
  const docker = input.format === 'v2s2';
  const layers = input.layers.map((l) =>
    mem.putBlob(enc.encode(l), docker ? MediaType.DOCKER_LAYER : MediaType.OCI_LAYER),
  );
  const platform = input.platform ?? { os: 'linux', architecture: 'amd64' };
  const config = buildConfig(
    {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      ...(input.created ? { created: input.created } : {}),
      ...(input.author ? { author: input.author } : {}),
      config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin'], ...(input.labels ? { Labels: input.labels } : {}) },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      history:
        input.history ??
        layers.map((_, i) => ({ created_by: `step ${i + 1}`, ...(input.created ? { created: input.created } : {}) })),
    },
    { mediaType: docker ? MediaType.DOCKER_CONFIG : MediaType.OCI_CONFIG },
  );
  mem.blobs.set(config.descriptor.digest, config.bytes);
  const manifest = buildManifest({
    mediaType: docker ? MediaType.DOCKER_MANIFEST : MediaType.OCI_MANIFEST,
    config: config.descriptor,
    layers,
  });
  const d = mem.putManifest(manifest.bytes, input.tag);
  return { manifest: d, config: config.descriptor, layers };
}

/** An index over two platform images in `mem`, tagged `tag`. */
export function putTestIndex(
  mem: MemoryImageStore,
  tag: string,
): { index: Descriptor; amd64: Descriptor; arm64: Descriptor; amd64Config: Descriptor } {
  const a = putTestImage(mem, {
    tag: `${tag}-amd64`,
    layers: [`${tag} amd64`],
    platform: { os: 'linux', architecture: 'amd64' },
  });
  const b = putTestImage(mem, {
    tag: `${tag}-arm64`,
    layers: [`${tag} arm64`],
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  });
  const idx = buildIndex({
    manifests: [
      { ...a.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { ...b.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  });
  const d = mem.putManifest(idx.bytes, tag);
  return { index: d, amd64: a.manifest, arm64: b.manifest, amd64Config: a.config };
}

/** A snapshot of a directory tree (paths and contents) to assert "nothing written". */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p, r);
      else out[r] = (await readFile(p)).toString('base64');
    }
  };
  await walk(dir, '');
  return out;
}

/**
 * argv prefix that runs a TypeScript file with the workspace's sources (the lade-source condition). Node itself with
 * tsx as a loader (not the tsx CLI, which runs node as a grandchild), so killing the process kills the code under test.
 */
export const tsNode: readonly string[] = [
  (process.versions as { deno?: string }).deno ? 'node' : process.execPath,
  '--conditions=lade-source',
  '--import',
  pathToFileURL(join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href,
];
