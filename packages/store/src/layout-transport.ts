import { type Digest, verifyBytes } from '@lade/digest';
import {
  type Descriptor,
  type ImageSink,
  type ImageSource,
  isForeignLayer,
  isIndexMediaType,
  isManifestMediaType,
  type OpenBlobOptions,
  type ParsedManifest,
  parseManifest,
  type TransportOptions,
  type WriteBlobOptions,
  type WriteManifestOptions,
} from '@lade/manifest';
import { AbortedError, BlobUnknownError, ManifestUnknownError, NameInvalidError } from './errors.js';
import { type OciIndexFile, OciLayout, REF_NAME_ANNOTATION } from './layout.js';
import { type Lease, takeLease } from './lease.js';

/** The root manifest a sink received, waiting for commit. */
export interface PendingRoot {
  readonly descriptor: Descriptor;
  readonly parsed: ParsedManifest;
}

function checkSignal(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`${what} was aborted`, { cause: signal.reason });
}

/** Just the content-identifying fields of a descriptor (index.json annotations stay behind). */
export function plainDescriptor(d: Descriptor): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.platform !== undefined ? { platform: d.platform } : {}),
    ...(d.artifactType !== undefined ? { artifactType: d.artifactType } : {}),
  };
}

/**
 * Checks that every blob an image needs is in the layout (foreign layers excepted). For an index, children that are
 * absent are allowed (a single-platform pull keeps one), but at least one child must be complete.
 * Throws BLOB_UNKNOWN naming the first missing blob.
 */
export async function checkComplete(layout: OciLayout, parsed: ParsedManifest): Promise<void> {
  if (parsed.kind === 'manifest') {
    const needed = [parsed.manifest.config, ...parsed.manifest.layers.filter((l) => !isForeignLayer(l))];
    for (const d of needed) {
      const info = await layout.blobs.stat(d.digest);
      if (!info || info.size !== d.size) {
        throw new BlobUnknownError(
          `blob ${d.digest} of manifest ${parsed.digest} is missing from ${layout.dir}; copy the image again`,
        );
      }
    }
    return;
  }
  let complete = 0;
  let firstError: unknown;
  for (const child of parsed.index.manifests) {
    if (!(await layout.blobs.has(child.digest))) continue;
    try {
      await checkComplete(layout, await layout.readManifest(child));
      complete++;
    } catch (err) {
      firstError ??= err;
    }
  }
  if (complete === 0) {
    if (firstError) throw firstError;
    throw new BlobUnknownError(
      `index ${parsed.digest} has none of its manifests in ${layout.dir}; copy the image again`,
    );
  }
}

/**
 * An ImageSink writing into an OCI layout. Blobs and manifests land as they come (verified, atomically);
 * the root is named only by `commit()`, which calls `onCommit` (under whatever lock it takes). Until then
 * index.json is unchanged, and a failed copy leaves only unreferenced blobs for GC.
 */
export class LayoutImageSink implements ImageSink {
  /** Ingest hashes every blob and refuses a mismatch before it becomes visible. */
  readonly verifiesBlobs = true;
  readonly name: string;
  readonly layout: OciLayout;
  readonly #onCommit: (root: PendingRoot, options: TransportOptions) => Promise<void>;
  #root: PendingRoot | undefined;
  #lease: Promise<Lease> | undefined;
  #committed = false;

  constructor(
    layout: OciLayout,
    name: string,
    onCommit: (root: PendingRoot, options: TransportOptions) => Promise<void>,
  ) {
    this.layout = layout;
    this.name = name;
    this.#onCommit = onCommit;
  }

  #ensureLease(): Promise<Lease> {
    this.#lease ??= takeLease(this.layout.dir);
    return this.#lease;
  }

  async hasBlob(descriptor: Descriptor, options: TransportOptions = {}): Promise<boolean> {
    checkSignal(options.signal, `checking ${descriptor.digest}`);
    await this.#ensureLease();
    const info = await this.layout.blobs.stat(descriptor.digest);
    if (!info || info.size !== descriptor.size) return false;
    // Refresh its mtime: our lease then protects it from a concurrent GC until we commit.
    return this.layout.blobs.touch(descriptor.digest);
  }

  /**
   * True only when the manifest and everything it needs are present: copy then skips its blobs, so a manifest left
   * behind by an interrupted delete (its layers already gone) must not count.
   */
  async hasManifest(descriptor: Descriptor, options: TransportOptions = {}): Promise<boolean> {
    if (!(await this.hasBlob(descriptor, options))) return false;
    try {
      const parsed = await this.layout.readManifest(descriptor);
      await checkComplete(this.layout, parsed);
      const needed =
        parsed.kind === 'manifest' ? [parsed.manifest.config, ...parsed.manifest.layers] : parsed.index.manifests;
      for (const d of needed) await this.layout.blobs.touch(d.digest);
      return true;
    } catch {
      return false;
    }
  }

  async writeBlob(
    descriptor: Descriptor,
    content: ReadableStream<Uint8Array>,
    options: WriteBlobOptions = {},
  ): Promise<void> {
    await this.#ensureLease();
    await this.layout.blobs.ingest({ digest: descriptor.digest, size: descriptor.size }, content, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  }

  async writeManifest(descriptor: Descriptor, bytes: Uint8Array, options: WriteManifestOptions = {}): Promise<void> {
    checkSignal(options.signal, `writing manifest ${descriptor.digest}`);
    verifyBytes(bytes, { digest: descriptor.digest, size: descriptor.size, name: `manifest ${descriptor.digest}` });
    const parsed = parseManifest(bytes, { contentType: descriptor.mediaType, preferBody: true });
    await this.#ensureLease();
    await this.layout.writeManifestBytes(bytes, descriptor.digest);
    if (options.root) {
      this.#root = { descriptor: { mediaType: parsed.mediaType, digest: parsed.digest, size: parsed.size }, parsed };
    }
  }

  async commit(options: TransportOptions = {}): Promise<void> {
    if (!this.#root) throw new ManifestUnknownError(`${this.name}: nothing to commit, no root manifest was written`);
    checkSignal(options.signal, `committing ${this.name}`);
    await this.#onCommit(this.#root, options);
    this.#committed = true;
    await this.close();
  }

  /** True once commit() succeeded. */
  get committed(): boolean {
    return this.#committed;
  }

  async close(): Promise<void> {
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease) await (await lease).release();
  }
}

/** An ImageSource over an OCI layout; `resolveRoot` names the root descriptor. */
export class LayoutImageSource implements ImageSource {
  readonly name: string;
  readonly layout: OciLayout;
  readonly #resolveRoot: () => Promise<Descriptor>;

  constructor(layout: OciLayout, name: string, resolveRoot: () => Promise<Descriptor>) {
    this.layout = layout;
    this.name = name;
    this.#resolveRoot = resolveRoot;
  }

  async resolve(options: TransportOptions = {}): Promise<Descriptor> {
    checkSignal(options.signal, `resolving ${this.name}`);
    return this.#resolveRoot();
  }

  async fetchManifest(descriptor: Descriptor, options: TransportOptions = {}): Promise<Uint8Array> {
    checkSignal(options.signal, `reading manifest ${descriptor.digest}`);
    let bytes: Uint8Array;
    try {
      bytes = await this.layout.readSmallBlob(descriptor, 'manifest');
    } catch (err) {
      if (err instanceof BlobUnknownError) {
        throw new ManifestUnknownError(`manifest ${descriptor.digest} is not in ${this.name}; copy the image again`, {
          cause: err,
        });
      }
      throw err;
    }
    verifyBytes(bytes, { digest: descriptor.digest, size: descriptor.size, name: `manifest ${descriptor.digest}` });
    return bytes;
  }

  async openBlob(descriptor: Descriptor, options: OpenBlobOptions = {}): Promise<ReadableStream<Uint8Array>> {
    checkSignal(options.signal, `reading blob ${descriptor.digest}`);
    return this.layout.blobs.read(descriptor.digest, options.offset ? { start: options.offset } : undefined);
  }
}

// skopeo's (containers/image) rule for `oci:DIR:REF` names, from the OCI annotation spec.
const refComponent = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const refNamePattern = new RegExp(`^${refComponent}(?:/${refComponent})*$`);

/** True when `name` is valid as an OCI layout reference name (`org.opencontainers.image.ref.name`). */
export function isValidRefName(name: string): boolean {
  return refNamePattern.test(name);
}

function checkRefName(ref: string | undefined): void {
  if (ref !== undefined && ref !== '' && !isValidRefName(ref)) {
    throw new NameInvalidError(`invalid OCI layout reference "${ref}": use letters, digits and -._:@+ separated by /`);
  }
}

/** The entry of an OCI layout's index named `ref`, or the only entry when `ref` is absent (skopeo's `oci:DIR[:REF]`). */
export function findLayoutEntry(index: OciIndexFile, dir: string, ref: string | undefined): Descriptor {
  if (ref === undefined || ref === '') {
    if (index.manifests.length === 1) return index.manifests[0]!;
    if (index.manifests.length === 0) throw new ManifestUnknownError(`the OCI layout ${dir} holds no image`);
    throw new ManifestUnknownError(
      `the OCI layout ${dir} holds ${index.manifests.length} images; name one as oci:${dir}:REF`,
    );
  }
  const found = index.manifests.find((m) => m.annotations?.[REF_NAME_ANNOTATION] === ref);
  if (!found)
    throw new ManifestUnknownError(
      `no image named "${ref}" in the OCI layout ${dir}; list the names with umoci ls --layout ${dir}`,
    );
  return found;
}

/**
 * An ImageSource reading `oci:DIR[:REF]`: the index.json entry whose `org.opencontainers.image.ref.name` is REF,
 * or the only entry when REF is omitted — as skopeo does.
 */
export async function ociLayoutSource(dir: string, ref?: string): Promise<LayoutImageSource> {
  checkRefName(ref);
  const layout = await OciLayout.open(dir);
  return new LayoutImageSource(layout, `oci:${dir}${ref ? `:${ref}` : ''}`, async () =>
    plainDescriptor(findLayoutEntry(await layout.readIndex(), dir, ref)),
  );
}

/** Adds `root` to an index under `ref`, the way skopeo does: an older entry of that name loses its name. */
export function addLayoutEntry(
  index: OciIndexFile,
  root: Descriptor,
  ref: string | undefined,
  annotations: Record<string, string> = {},
): OciIndexFile {
  const named = ref !== undefined && ref !== '';
  const entryAnnotations: Record<string, string> = { ...annotations, ...(named ? { [REF_NAME_ANNOTATION]: ref } : {}) };
  const entry: Descriptor = {
    ...plainDescriptor(root),
    ...(Object.keys(entryAnnotations).length > 0 ? { annotations: entryAnnotations } : {}),
  };
  const manifests: Descriptor[] = [];
  for (const m of index.manifests) {
    if (named && m.annotations?.[REF_NAME_ANNOTATION] === ref) {
      if (m.digest === root.digest) continue;
      const { [REF_NAME_ANNOTATION]: _dropped, ...rest } = m.annotations;
      const { annotations: _a, ...bare } = m;
      manifests.push(Object.keys(rest).length > 0 ? { ...bare, annotations: rest } : bare);
      continue;
    }
    // An unnamed entry of the same content is replaced by the new one.
    if (m.digest === root.digest && m.annotations?.[REF_NAME_ANNOTATION] === undefined) continue;
    manifests.push(m);
  }
  manifests.push(entry);
  return { ...index, manifests };
}

/**
 * An ImageSink writing `oci:DIR[:REF]` (the layout is created when missing). On commit the root manifest is added to
 * index.json named REF; an older image of that name keeps its entry without the name, as skopeo leaves it.
 */
export async function ociLayoutSink(dir: string, ref?: string): Promise<LayoutImageSink> {
  checkRefName(ref);
  const layout = await OciLayout.open(dir, { create: true });
  return new LayoutImageSink(layout, `oci:${dir}${ref ? `:${ref}` : ''}`, async (root, options) => {
    await layout.updateIndex(
      async (index) => {
        await checkComplete(layout, root.parsed);
        return { index: addLayoutEntry(index, root.descriptor, ref), result: undefined };
      },
      options.signal ? { signal: options.signal } : {},
    );
  });
}

/** What a walk from index.json's roots found. */
export interface Reachability {
  /** Every digest reachable from the roots (children of an index that are absent on purpose included). */
  readonly reachable: Set<Digest>;
  /** Blobs that are referenced but absent, with the root that needs them. */
  readonly missing: Map<Digest, string>;
  /** Manifests that are present but cannot be read, with the reason. */
  readonly invalid: Map<Digest, string>;
  /** Roots (by name or digest) with a manifest that is missing or unreadable: what they reference is unknown. */
  readonly unknown: Set<string>;
}

/** Walks every manifest, config and layer reachable from `roots` (what GC keeps, what fsck checks). */
export async function reachableBlobs(layout: OciLayout, roots: readonly Descriptor[]): Promise<Reachability> {
  const reachable = new Set<Digest>();
  const missing = new Map<Digest, string>();
  const invalid = new Map<Digest, string>();
  const unknown = new Set<string>();
  const visit = async (d: Descriptor, from: string, optional: boolean): Promise<void> => {
    if (reachable.has(d.digest)) return;
    reachable.add(d.digest);
    const isManifest = isManifestMediaType(d.mediaType) || isIndexMediaType(d.mediaType);
    if (!(await layout.blobs.has(d.digest))) {
      if (!optional && !isForeignLayer(d)) {
        missing.set(d.digest, from);
        if (isManifest) unknown.add(from);
      }
      return;
    }
    if (!isManifest) return;
    let parsed: ParsedManifest;
    try {
      parsed = await layout.readManifest(d);
    } catch (err) {
      invalid.set(d.digest, err instanceof Error ? err.message : String(err));
      unknown.add(from);
      return;
    }
    if (parsed.kind === 'index') {
      // Children of a single-platform pull are absent on purpose: not "missing".
      for (const c of parsed.index.manifests) await visit(c, from, true);
    } else {
      await visit(parsed.manifest.config, from, false);
      for (const l of parsed.manifest.layers) await visit(l, from, false);
    }
  };
  for (const r of roots) await visit(r, r.annotations?.[REF_NAME_ANNOTATION] ?? r.digest, false);
  return { reachable, missing, invalid, unknown };
}
