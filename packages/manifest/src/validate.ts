// Hand-written validators for untrusted manifest/index/config JSON: each checks one shape and returns it typed.
import { type Digest, hash, isDigest, parseDigest } from '@lade/digest';
import { ManifestInvalidError } from './errors.js';
import { isValidMediaType } from './media-types.js';
import type { Descriptor, Platform } from './transport.js';
import type { Annotations, ContainerConfig, HistoryEntry, ImageConfig, ImageIndex, ImageManifest } from './types.js';

/** Where in the document a check failed, for messages like `layers[2].digest`. */
export class Checker {
  constructor(readonly thing: string) {}

  fail(path: string, problem: string): never {
    const where = path === '' ? '' : `${path}: `;
    throw new ManifestInvalidError(`invalid ${this.thing}: ${where}${problem}`, { detail: { path } });
  }

  object(value: unknown, path: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      this.fail(path, `expected a JSON object, got ${describe(value)}`);
    return value as Record<string, unknown>;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, `expected a string, got ${describe(value)}`);
    return value;
  }

  optionalString(value: unknown, path: string): string | undefined {
    return value === undefined ? undefined : this.string(value, path);
  }

  stringArray(value: unknown, path: string): string[] {
    if (!Array.isArray(value)) this.fail(path, `expected an array of strings, got ${describe(value)}`);
    for (const [i, v] of value.entries()) this.string(v, `${path}[${i}]`);
    return value as string[];
  }

  /** A string array or null (docker writes `"Cmd": null`). */
  nullableStringArray(value: unknown, path: string): string[] | null | undefined {
    if (value === undefined || value === null) return value;
    return this.stringArray(value, path);
  }

  stringMap(value: unknown, path: string): Record<string, string> {
    const o = this.object(value, path);
    for (const [k, v] of Object.entries(o)) this.string(v, `${path}[${JSON.stringify(k)}]`);
    return o as Record<string, string>;
  }

  /** `{ "80/tcp": {} }` maps (ExposedPorts, Volumes); null allowed as docker writes it. */
  setMap(value: unknown, path: string): void {
    if (value === undefined || value === null) return;
    const o = this.object(value, path);
    for (const [k, v] of Object.entries(o)) this.object(v, `${path}[${JSON.stringify(k)}]`);
  }

  mediaType(value: unknown, path: string): string {
    const s = this.string(value, path);
    if (!isValidMediaType(s)) this.fail(path, `"${truncate(s)}" is not a valid media type (type/subtype)`);
    return s;
  }

  digest(value: unknown, path: string): Digest {
    const s = this.string(value, path);
    if (!isDigest(s)) {
      try {
        parseDigest(s);
      } catch (e) {
        this.fail(path, (e as Error).message);
      }
      this.fail(path, `invalid digest "${truncate(s)}"`);
    }
    return s;
  }

  size(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      this.fail(path, `size must be a non-negative integer, got ${describe(value)}`);
    }
    return value;
  }

  annotations(value: unknown, path: string): Annotations | undefined {
    return value === undefined ? undefined : this.stringMap(value, path);
  }

  platform(value: unknown, path: string): Platform {
    const o = this.object(value, path);
    this.string(o.architecture, `${path}.architecture`);
    this.string(o.os, `${path}.os`);
    this.optionalString(o.variant, `${path}.variant`);
    this.optionalString(o['os.version'], `${path}["os.version"]`);
    if (o['os.features'] !== undefined) this.stringArray(o['os.features'], `${path}["os.features"]`);
    if (o.features !== undefined) this.stringArray(o.features, `${path}.features`);
    return o as unknown as Platform;
  }

  descriptor(value: unknown, path: string): Descriptor {
    const o = this.object(value, path);
    if (o.mediaType === undefined) this.fail(`${path}.mediaType`, 'missing (every descriptor needs a mediaType)');
    this.mediaType(o.mediaType, `${path}.mediaType`);
    if (o.digest === undefined) this.fail(`${path}.digest`, 'missing');
    const digest = this.digest(o.digest, `${path}.digest`);
    if (o.size === undefined) this.fail(`${path}.size`, 'missing');
    const size = this.size(o.size, `${path}.size`);
    if (o.urls !== undefined) this.stringArray(o.urls, `${path}.urls`);
    this.annotations(o.annotations, `${path}.annotations`);
    if (o.platform !== undefined) this.platform(o.platform, `${path}.platform`);
    if (o.artifactType !== undefined) this.mediaType(o.artifactType, `${path}.artifactType`);
    if (o.data !== undefined) this.embeddedData(this.string(o.data, `${path}.data`), digest, size, `${path}.data`);
    return o as unknown as Descriptor;
  }

  // The OCI spec lets a descriptor embed its content as base64 `data`; it must be that content.
  private embeddedData(data: string, digest: Digest, size: number, path: string): void {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) this.fail(path, 'is not valid base64');
    const bytes = base64Decode(data);
    if (
      bytes.byteLength !== size ||
      hash(bytes, { algorithm: digest.startsWith('sha512:') ? 'sha512' : 'sha256' }) !== digest
    ) {
      this.fail(path, 'does not match the descriptor digest and size');
    }
  }

  schemaVersion(o: Record<string, unknown>): void {
    if (o.schemaVersion === undefined) this.fail('schemaVersion', 'missing (expected 2)');
    if (o.schemaVersion !== 2) this.fail('schemaVersion', `expected 2, got ${describe(o.schemaVersion)}`);
  }

  manifest(value: unknown): ImageManifest {
    const o = this.object(value, '');
    this.schemaVersion(o);
    if (o.mediaType !== undefined) this.mediaType(o.mediaType, 'mediaType');
    if (o.artifactType !== undefined) this.mediaType(o.artifactType, 'artifactType');
    if (o.config === undefined) this.fail('config', 'missing');
    this.descriptor(o.config, 'config');
    if (o.layers === undefined) this.fail('layers', 'missing');
    if (!Array.isArray(o.layers)) this.fail('layers', `expected an array, got ${describe(o.layers)}`);
    for (const [i, l] of o.layers.entries()) this.descriptor(l, `layers[${i}]`);
    if (o.subject !== undefined) this.descriptor(o.subject, 'subject');
    this.annotations(o.annotations, 'annotations');
    return o as unknown as ImageManifest;
  }

  index(value: unknown): ImageIndex {
    const o = this.object(value, '');
    this.schemaVersion(o);
    if (o.mediaType !== undefined) this.mediaType(o.mediaType, 'mediaType');
    if (o.artifactType !== undefined) this.mediaType(o.artifactType, 'artifactType');
    if (o.manifests === undefined) this.fail('manifests', 'missing');
    if (!Array.isArray(o.manifests)) this.fail('manifests', `expected an array, got ${describe(o.manifests)}`);
    for (const [i, m] of o.manifests.entries()) this.descriptor(m, `manifests[${i}]`);
    if (o.subject !== undefined) this.descriptor(o.subject, 'subject');
    this.annotations(o.annotations, 'annotations');
    return o as unknown as ImageIndex;
  }

  config(value: unknown): ImageConfig {
    const o = this.object(value, '');
    if (o.architecture === undefined) this.fail('architecture', 'missing');
    this.string(o.architecture, 'architecture');
    if (o.os === undefined) this.fail('os', 'missing');
    this.string(o.os, 'os');
    this.optionalString(o.variant, 'variant');
    this.optionalString(o['os.version'], '"os.version"');
    if (o['os.features'] !== undefined) this.stringArray(o['os.features'], '"os.features"');
    this.optionalString(o.created, 'created');
    this.optionalString(o.author, 'author');
    if (o.config !== undefined && o.config !== null) this.containerConfig(o.config, 'config');
    if (o.rootfs === undefined) this.fail('rootfs', 'missing');
    const rootfs = this.object(o.rootfs, 'rootfs');
    if (rootfs.type !== 'layers') this.fail('rootfs.type', `expected "layers", got ${describe(rootfs.type)}`);
    if (rootfs.diff_ids === undefined) this.fail('rootfs.diff_ids', 'missing');
    if (!Array.isArray(rootfs.diff_ids))
      this.fail('rootfs.diff_ids', `expected an array, got ${describe(rootfs.diff_ids)}`);
    for (const [i, d] of rootfs.diff_ids.entries()) this.digest(d, `rootfs.diff_ids[${i}]`);
    if (o.history !== undefined && o.history !== null) {
      if (!Array.isArray(o.history)) this.fail('history', `expected an array, got ${describe(o.history)}`);
      for (const [i, h] of o.history.entries()) this.history(h, `history[${i}]`);
    }
    return o as unknown as ImageConfig;
  }

  private containerConfig(value: unknown, path: string): ContainerConfig {
    const c = this.object(value, path);
    this.optionalString(c.User, `${path}.User`);
    this.nullableStringArray(c.Env, `${path}.Env`);
    this.nullableStringArray(c.Entrypoint, `${path}.Entrypoint`);
    this.nullableStringArray(c.Cmd, `${path}.Cmd`);
    this.nullableStringArray(c.OnBuild, `${path}.OnBuild`);
    this.nullableStringArray(c.Shell, `${path}.Shell`);
    this.optionalString(c.WorkingDir, `${path}.WorkingDir`);
    this.optionalString(c.StopSignal, `${path}.StopSignal`);
    if (c.Labels !== undefined && c.Labels !== null) this.stringMap(c.Labels, `${path}.Labels`);
    this.setMap(c.ExposedPorts, `${path}.ExposedPorts`);
    this.setMap(c.Volumes, `${path}.Volumes`);
    if (c.ArgsEscaped !== undefined && typeof c.ArgsEscaped !== 'boolean')
      this.fail(`${path}.ArgsEscaped`, `expected a boolean, got ${describe(c.ArgsEscaped)}`);
    return c as ContainerConfig;
  }

  private history(value: unknown, path: string): HistoryEntry {
    const h = this.object(value, path);
    for (const k of ['created', 'created_by', 'author', 'comment'] as const) this.optionalString(h[k], `${path}.${k}`);
    if (h.empty_layer !== undefined && typeof h.empty_layer !== 'boolean')
      this.fail(`${path}.empty_layer`, `expected a boolean, got ${describe(h.empty_layer)}`);
    return h as HistoryEntry;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(truncate(value));
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}

function truncate(s: string): string {
  return s.length > 100 ? `${s.slice(0, 100)}…` : s;
}

/** Decodes standard base64 (no dependency on Buffer, so it runs anywhere). */
export function base64Decode(data: string): Uint8Array {
  const bin = atob(data);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
