import { createHash, randomBytes } from 'node:crypto';
import type { Registry } from '../src/index.js';

export const BASE = 'http://registry.test';

export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** `POST /token` with an OAuth2 form (`grant_type`, `username`, `password`, `refresh_token`, …), as docker sends it. */
export function postToken(registry: Pick<Registry, 'fetch'>, form: Record<string, string>): Promise<Response> {
  return Promise.resolve(
    registry.fetch(
      new Request(`${BASE}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      }),
    ),
  );
}

export interface Call {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests probe response bodies ad hoc
  json: () => any;
}

/** Sends one request to a registry's fetch handler and reads the whole response. */
export async function call(
  registry: Registry,
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: Uint8Array | string; query?: Record<string, string> } = {},
): Promise<Call> {
  const url = new URL(path, BASE);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
  const res = await registry.fetch(
    new Request(url, {
      method,
      headers: init.headers ?? {},
      ...(init.body !== undefined ? { body: init.body as BodyInit } : {}),
    }),
  );
  const text = method === 'HEAD' ? '' : await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** Pushes a blob monolithically (POST then PUT), returning its digest. */
export async function pushBlob(registry: Registry, repo: string, content: Uint8Array | string): Promise<string> {
  const digest = sha256(content);
  const post = await call(registry, 'POST', `/v2/${repo}/blobs/uploads/`);
  if (post.status !== 202) throw new Error(`POST upload: ${post.status} ${post.text}`);
  const put = await call(registry, 'PUT', post.headers.get('location')!, { query: { digest }, body: content });
  if (put.status !== 201) throw new Error(`PUT upload: ${put.status} ${put.text}`);
  return digest;
}

/** A small image (config + one layer) pushed into `repo` under `tag`; returns the manifest bytes and digests. */
export async function pushImage(registry: Registry, repo: string, tag: string, seed = randomBytes(8).toString('hex')) {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', seed, rootfs: { type: 'layers', diff_ids: [] } });
  const layer = randomBytes(1024);
  const configDigest = await pushBlob(registry, repo, config);
  const layerDigest = await pushBlob(registry, repo, layer);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: Buffer.byteLength(config),
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.byteLength }],
  });
  const put = await call(registry, 'PUT', `/v2/${repo}/manifests/${tag}`, {
    headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  if (put.status !== 201) throw new Error(`PUT manifest: ${put.status} ${put.text}`);
  return { manifest, digest: sha256(manifest), configDigest, layerDigest, layer, config };
}
