// A minimal OCI-layout reader/writer for the tests only (the real one is @lade/store): reads blobs straight from disk.

import { Buffer } from 'node:buffer';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type Digest, digestHex } from '@lade/digest';
import type { Descriptor, ImageSink, ImageSource } from '../src/index.js';

export async function readLayoutIndex(dir: string): Promise<{ manifests: Descriptor[] }> {
  return JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'));
}

export function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digestHex(digest as Digest));
}

export async function readBlob(dir: string, digest: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(blobPath(dir, digest)));
}

/** An ImageSource over an OCI layout, naming the image by its `org.opencontainers.image.ref.name`. */
export function layoutSource(dir: string, tag: string): ImageSource {
  return {
    name: `oci:${dir}:${tag}`,
    async resolve() {
      const index = await readLayoutIndex(dir);
      const d = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
      if (!d) throw new Error(`no ${tag} in ${dir}`);
      return d;
    },
    async fetchManifest(d) {
      return readBlob(dir, d.digest);
    },
    async openBlob(d) {
      return Readable.toWeb(createReadStream(blobPath(dir, d.digest))) as unknown as ReadableStream<Uint8Array>;
    },
  };
}

/** An ImageSink writing an OCI layout that skopeo and umoci read (root tagged `tag`). */
export function layoutSink(dir: string, tag: string): ImageSink {
  let root: Descriptor | undefined;
  const ensure = async () => {
    await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
    if (!existsSync(join(dir, 'oci-layout')))
      await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  };
  return {
    name: `oci:${dir}:${tag}`,
    async hasBlob(d) {
      return existsSync(blobPath(dir, d.digest));
    },
    async writeBlob(d, content) {
      await ensure();
      const chunks: Uint8Array[] = [];
      for await (const c of content as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
      await writeFile(blobPath(dir, d.digest), Buffer.concat(chunks));
    },
    async writeManifest(d, bytes, options) {
      await ensure();
      await writeFile(blobPath(dir, d.digest), bytes);
      if (options?.root) root = d;
    },
    async commit() {
      if (!root) throw new Error('no root');
      const index = {
        schemaVersion: 2,
        manifests: [
          {
            mediaType: root.mediaType,
            digest: root.digest,
            size: root.size,
            annotations: { 'org.opencontainers.image.ref.name': tag },
          },
        ],
      };
      await writeFile(join(dir, 'index.json'), JSON.stringify(index));
    },
  };
}

/**
 * An ImageSink writing skopeo's `dir:` transport layout: `version`, `manifest.json` (the root), blobs by hex,
 * and `<hex>.manifest.json` for the images of a list.
 */
export function dirSink(dir: string): ImageSink {
  return {
    name: `dir:${dir}`,
    async hasBlob(d) {
      return existsSync(join(dir, digestHex(d.digest)));
    },
    async writeBlob(d, content) {
      await mkdir(dir, { recursive: true });
      const chunks: Uint8Array[] = [];
      for await (const c of content as unknown as AsyncIterable<Uint8Array>) chunks.push(c);
      await writeFile(join(dir, digestHex(d.digest)), Buffer.concat(chunks));
    },
    async writeManifest(d, bytes, options) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, options?.root ? 'manifest.json' : `${digestHex(d.digest)}.manifest.json`), bytes);
    },
    async commit() {
      await writeFile(join(dir, 'version'), 'Directory Transport Version: 1.1\n');
    },
  };
}
