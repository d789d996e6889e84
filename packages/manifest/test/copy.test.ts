import { hash, LadeError } from '@lade/digest';
import { describe, expect, it } from 'vitest';
import {
  buildManifest,
  type CopyEvent,
  copy,
  type Descriptor,
  type ImageSink,
  type ImageSource,
  MediaType,
  MemoryImageStore,
  NoMatchingManifestError,
  parseImageIndex,
  parseImageManifest,
} from '../src/index.js';

const enc = new TextEncoder();
const bytes = (s: string, n = 1) => enc.encode(s.repeat(n));

function twoPlatformStore(): {
  store: MemoryImageStore;
  amd: ReturnType<MemoryImageStore['putImage']>;
  arm: ReturnType<MemoryImageStore['putImage']>;
  index: Descriptor;
} {
  const store = new MemoryImageStore('src');
  const shared = bytes('shared-base-layer', 1000);
  const amd = store.putImage({
    layers: [shared, bytes('amd64-top', 500)],
    platform: { os: 'linux', architecture: 'amd64' },
  });
  const arm = store.putImage({
    layers: [shared, bytes('arm64-top', 500)],
    platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
  });
  const index = store.putIndex(
    [
      { descriptor: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { descriptor: arm.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
    { tag: 'multi' },
  );
  return { store, amd, arm, index };
}

/** Records every sink call in order (a real MemoryImageStore sink underneath). */
function recordingSink(inner: ImageSink, calls: string[]): ImageSink {
  return {
    name: inner.name,
    hasBlob: (d, o) => inner.hasBlob(d, o),
    writeBlob: async (d, c, o) => {
      calls.push(`blob ${d.digest}`);
      await inner.writeBlob(d, c, o);
    },
    hasManifest: (d, o) => inner.hasManifest!(d, o),
    writeManifest: async (d, b, o) => {
      calls.push(`manifest ${d.digest}${o?.root ? ' root' : ''}`);
      await inner.writeManifest(d, b, o);
    },
    commit: async (o) => {
      calls.push('commit');
      await inner.commit?.(o);
    },
  };
}

/** A source whose blob streams trickle (so transfers overlap) and which counts streams open at once. */
function slowSource(inner: ImageSource, delayMs = 5): ImageSource & { maxOpen: number; open: number; opened: number } {
  const s = {
    name: inner.name,
    maxOpen: 0,
    open: 0,
    opened: 0,
    resolve: (o?: { signal?: AbortSignal }) => inner.resolve(o),
    fetchManifest: (d: Descriptor, o?: { signal?: AbortSignal }) => inner.fetchManifest(d, o),
    async openBlob(d: Descriptor, o?: { signal?: AbortSignal }) {
      const body = await inner.openBlob(d, o);
      const reader = body.getReader();
      s.open++;
      s.opened++;
      s.maxOpen = Math.max(s.maxOpen, s.open);
      let closed = false;
      const close = () => {
        if (!closed) s.open--;
        closed = true;
      };
      return new ReadableStream<Uint8Array>({
        async pull(c) {
          await new Promise((r) => setTimeout(r, delayMs));
          const { done, value } = await reader.read();
          if (done) {
            close();
            c.close();
          } else c.enqueue(value);
        },
        cancel(reason) {
          close();
          return reader.cancel(reason);
        },
      });
    },
  };
  return s;
}

describe('copy: single images', () => {
  it('copies a manifest, its config and layers byte for byte and tags the root', async () => {
    const src = new MemoryImageStore('src');
    const img = src.putImage({ layers: [bytes('a', 100), bytes('b', 200)], tag: 'app:1' });
    const dst = new MemoryImageStore('dst');
    const result = await copy(src.source('app:1'), dst.sink('app:2'));
    expect(result.root.digest).toBe(img.manifest.digest);
    expect(result.manifests.map((m) => m.digest)).toEqual([img.manifest.digest]);
    expect(result.blobs).toBe(3);
    expect(result.bytes).toBe(100 + 200 + img.config.size);
    expect(result.skippedBlobs).toBe(0);
    expect(dst.getManifest(img.manifest.digest)?.bytes).toEqual(img.manifestBytes);
    for (const d of [img.config, ...img.layers]) expect(dst.getBlob(d.digest)).toEqual(src.getBlob(d.digest));
    expect(dst.resolve('app:2')?.digest).toBe(img.manifest.digest);
    expect(dst.stats.commit).toBe(1);
  });

  it('writes blobs first, then the manifest with root: true, then commits', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('a'), bytes('b')], tag: 't' });
    const calls: string[] = [];
    await copy(src.source('t'), recordingSink(new MemoryImageStore().sink('t'), calls));
    expect(calls.slice(0, 3).every((c) => c.startsWith('blob '))).toBe(true);
    expect(calls.slice(3)).toEqual([`manifest ${img.manifest.digest} root`, 'commit']);
  });

  it('reports waiting → downloading → verifying → complete per blob, then manifest-written', async () => {
    const src = new MemoryImageStore();
    const big = new Uint8Array(300 * 1024).map((_, i) => i % 251);
    const img = src.putImage({ layers: [big], tag: 't' });
    const events: CopyEvent[] = [];
    await copy(src.source('t'), new MemoryImageStore().sink('t'), { onProgress: (e) => events.push(e) });
    const layerEvents = events
      .filter((e) => 'descriptor' in e && e.descriptor.digest === img.layers[0]!.digest)
      .map((e) => e.type);
    expect(layerEvents[0]).toBe('waiting');
    expect(layerEvents.slice(-2)).toEqual(['verifying', 'complete']);
    const downloads = events.filter(
      (e): e is Extract<CopyEvent, { type: 'downloading' }> =>
        e.type === 'downloading' && e.descriptor.digest === img.layers[0]!.digest,
    );
    expect(downloads.length).toBeGreaterThan(1);
    expect(downloads.at(-1)).toMatchObject({ transferred: big.byteLength, total: big.byteLength, role: 'layer' });
    expect(downloads.map((d) => d.transferred)).toEqual([...downloads.map((d) => d.transferred)].sort((a, b) => a - b));
    expect(events.at(-1)).toEqual({
      type: 'manifest-written',
      descriptor: expect.objectContaining({ digest: img.manifest.digest }),
      root: true,
    });
    expect(events.find((e) => e.type === 'waiting' && e.role === 'config')).toBeDefined();
  });

  it('skips blobs the sink has (event exists) and writes only the rest', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('a', 10), bytes('b', 10)], tag: 't' });
    const dst = new MemoryImageStore();
    dst.putBlob(src.getBlob(img.layers[0]!.digest)!);
    const events: CopyEvent[] = [];
    const r = await copy(src.source('t'), dst.sink('t'), { onProgress: (e) => events.push(e) });
    expect(
      events.filter((e) => e.type === 'exists').map((e) => ('descriptor' in e ? e.descriptor.digest : '')),
    ).toEqual([img.layers[0]!.digest]);
    expect(dst.stats.writeBlob).toBe(2);
    expect(r.blobs).toBe(2);
    expect(r.skippedBlobs).toBe(1);
  });

  it('mounts blobs when the sink can (event mounted) and writes nothing for them', async () => {
    const src = new MemoryImageStore('src');
    const img = src.putImage({ layers: [bytes('a', 10)], tag: 't' });
    const dst = new MemoryImageStore();
    const inner = dst.sink('t');
    const mounted: string[] = [];
    const sink: ImageSink = {
      ...inner,
      async mountBlob(d, from) {
        expect(from.name).toContain('src');
        if (d.digest !== img.layers[0]!.digest) return false;
        mounted.push(d.digest);
        dst.putBlob(src.getBlob(d.digest)!);
        return true;
      },
    };
    const events: CopyEvent[] = [];
    await copy(src.source('t'), sink, { onProgress: (e) => events.push(e) });
    expect(mounted).toEqual([img.layers[0]!.digest]);
    expect(events.filter((e) => e.type === 'mounted')).toHaveLength(1);
    expect(dst.stats.writeBlob).toBe(1);
  });

  it('skips foreign layers like skopeo (event skipped), writing the manifest that lists them', async () => {
    const src = new MemoryImageStore();
    const cfg = src.putBlob(
      enc.encode(
        JSON.stringify({
          architecture: 'amd64',
          os: 'windows',
          rootfs: { type: 'layers', diff_ids: [hash('x'), hash('y')] },
        }),
      ),
      MediaType.DOCKER_CONFIG,
    );
    const local = src.putBlob(bytes('local'), MediaType.DOCKER_LAYER_GZIP);
    const foreign = {
      mediaType: MediaType.DOCKER_LAYER_FOREIGN_GZIP,
      digest: hash('not here'),
      size: 8,
      urls: ['https://mcr.example/base'],
    };
    const m = buildManifest({ mediaType: MediaType.DOCKER_MANIFEST, config: cfg, layers: [foreign, local] });
    src.putManifest(m.bytes, 'win');
    const dst = new MemoryImageStore();
    const events: CopyEvent[] = [];
    const r = await copy(src.source('win'), dst.sink('win'), { onProgress: (e) => events.push(e) });
    expect(events.find((e) => e.type === 'skipped')).toMatchObject({ reason: 'foreign', role: 'layer' });
    expect(dst.getBlob(foreign.digest)).toBeUndefined();
    expect(dst.getManifest(m.descriptor.digest)).toBeDefined();
    expect(r.skippedBlobs).toBe(1);
  });

  it('copies foreign layers the source holds when foreignLayers is copy', async () => {
    const src = new MemoryImageStore();
    const cfg = src.putBlob(
      enc.encode(
        JSON.stringify({ architecture: 'amd64', os: 'windows', rootfs: { type: 'layers', diff_ids: [hash('x')] } }),
      ),
      MediaType.OCI_CONFIG,
    );
    const nondist = src.putBlob(bytes('nondist'), MediaType.OCI_LAYER_NONDIST_GZIP);
    const m = buildManifest({ config: cfg, layers: [nondist] });
    src.putManifest(m.bytes, 'w');
    const dst = new MemoryImageStore();
    const r = await copy(src.source('w'), dst.sink('w'), { foreignLayers: 'copy' });
    expect(dst.getBlob(nondist.digest)).toEqual(bytes('nondist'));
    expect(r.skippedBlobs).toBe(0);
    const skipped = await copy(src.source('w'), new MemoryImageStore().sink('w'));
    expect(skipped.skippedBlobs).toBe(1);
  });

  it('copies every blob of the same digest once', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('same'), bytes('same')], tag: 't' });
    const dst = new MemoryImageStore();
    const r = await copy(src.source('t'), dst.sink('t'));
    expect(img.layers[0]!.digest).toBe(img.layers[1]!.digest);
    expect(r.blobs).toBe(2);
    expect(dst.stats.writeBlob).toBe(2);
  });
});

describe('copy: indexes', () => {
  it('copies only the requested platform; its manifest becomes the root', async () => {
    const { store, arm, amd } = twoPlatformStore();
    const dst = new MemoryImageStore();
    const r = await copy(store.source('multi'), dst.sink('app'), { platform: 'linux/arm64' });
    expect(r.root.digest).toBe(arm.manifest.digest);
    expect(r.root.platform).toEqual({ architecture: 'arm64', os: 'linux', variant: 'v8' });
    expect(r.manifests).toHaveLength(1);
    expect(dst.resolve('app')?.digest).toBe(arm.manifest.digest);
    for (const l of arm.layers) expect(dst.getBlob(l.digest)).toBeDefined();
    expect(dst.getBlob(amd.layers[1]!.digest)).toBeUndefined();
    expect(dst.getBlob(amd.config.digest)).toBeUndefined();
  });

  it('accepts un-normalized platform objects (aarch64)', async () => {
    const { store, arm } = twoPlatformStore();
    const r = await copy(store.source('multi'), new MemoryImageStore().sink('x'), {
      platform: { os: 'linux', architecture: 'aarch64' },
    });
    expect(r.root.digest).toBe(arm.manifest.digest);
  });

  it("fails with docker's message and writes nothing when no entry matches", async () => {
    const { store } = twoPlatformStore();
    const dst = new MemoryImageStore();
    const err = await copy(store.source('multi'), dst.sink('x'), { platform: 'linux/s390x' }).catch((e) => e);
    expect(err).toBeInstanceOf(NoMatchingManifestError);
    expect(err.message).toBe('no matching manifest for linux/s390x in the manifest list entries');
    expect(err.code).toBe('MANIFEST_UNKNOWN');
    expect(dst.blobs.size).toBe(0);
    expect(dst.manifests.size).toBe(0);
  });

  it('with all, copies every child (shared layers once), then the index as root, children first', async () => {
    const { store, amd, arm, index } = twoPlatformStore();
    const dst = new MemoryImageStore();
    const calls: string[] = [];
    const r = await copy(store.source('multi'), recordingSink(dst.sink('multi'), calls), { all: true });
    expect(r.root.digest).toBe(index.digest);
    expect(r.manifests.map((m) => m.digest)).toEqual([amd.manifest.digest, arm.manifest.digest, index.digest]);
    const manifestCalls = calls.filter((c) => c.startsWith('manifest'));
    expect(manifestCalls).toEqual([
      `manifest ${amd.manifest.digest}`,
      `manifest ${arm.manifest.digest}`,
      `manifest ${index.digest} root`,
    ]);
    expect(calls.indexOf(manifestCalls[0]!)).toBeGreaterThan(calls.findLastIndex((c) => c.startsWith('blob')));
    expect(calls.at(-1)).toBe('commit');
    // 2 configs + 1 shared + 2 top layers
    expect(r.blobs).toBe(5);
    expect(dst.getManifest(index.digest)?.bytes).toEqual(store.getManifest(index.digest)?.bytes);
    expect(dst.resolve('multi')?.digest).toBe(index.digest);
  });

  it('with all, does not walk a child manifest the sink already has (manifest-exists)', async () => {
    const { store, amd, arm } = twoPlatformStore();
    const dst = new MemoryImageStore();
    await copy(store.source('multi'), dst.sink('one'), { platform: 'linux/amd64' });
    const events: CopyEvent[] = [];
    const r = await copy(store.source('multi'), dst.sink('multi'), { all: true, onProgress: (e) => events.push(e) });
    expect(
      events.filter((e) => e.type === 'manifest-exists').map((e) => ('descriptor' in e ? e.descriptor.digest : '')),
    ).toEqual([amd.manifest.digest]);
    expect(r.manifests.map((m) => m.digest)).not.toContain(amd.manifest.digest);
    expect(dst.getBlob(arm.layers[1]!.digest)).toBeDefined();
  });

  it('picks an entry without platform by reading its config (OCI layouts often omit platform)', async () => {
    const store = new MemoryImageStore();
    const amd = store.putImage({ layers: [bytes('x')], platform: { os: 'linux', architecture: 'amd64' } });
    const arm = store.putImage({ layers: [bytes('y')], platform: { os: 'linux', architecture: 'arm64' } });
    store.putIndex([{ descriptor: amd.manifest }, { descriptor: arm.manifest }], { tag: 'bare' });
    const r = await copy(store.source('bare'), new MemoryImageStore().sink('x'), { platform: 'linux/arm64/v8' });
    expect(r.root.digest).toBe(arm.manifest.digest);
    const e = await copy(store.source('bare'), new MemoryImageStore().sink('x'), { platform: 'linux/ppc64le' }).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(NoMatchingManifestError);
  });

  it('descends nested indexes to the platform manifest', async () => {
    const { store, amd } = twoPlatformStore();
    const inner = store.resolve('multi')!;
    store.putIndex([{ descriptor: inner }], { tag: 'nested' });
    const r = await copy(store.source('nested'), new MemoryImageStore().sink('x'), { platform: 'linux/amd64' });
    expect(r.root.digest).toBe(amd.manifest.digest);
  });
});

describe('copy: format conversion', () => {
  it('without format preserves every digest; with v2s2 converts manifest and media types, blobs keep digests', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('l', 10)], tag: 't' });
    const dst = new MemoryImageStore();
    const r = await copy(src.source('t'), dst.sink('t'), { format: 'v2s2' });
    expect(r.root.mediaType).toBe(MediaType.DOCKER_MANIFEST);
    expect(r.root.digest).not.toBe(img.manifest.digest);
    const m = parseImageManifest(dst.getManifest(r.root.digest)!.bytes);
    expect(m.digest).toBe(r.root.digest);
    expect(m.manifest.config).toEqual({ ...img.config, mediaType: MediaType.DOCKER_CONFIG });
    expect(m.manifest.layers[0]).toEqual({ ...img.layers[0], mediaType: MediaType.DOCKER_LAYER });
    expect(dst.getBlob(img.config.digest)).toEqual(src.getBlob(img.config.digest));
    expect(dst.resolve('t')?.digest).toBe(r.root.digest);
  });

  it('with all and a format, rewrites the index to point at the converted children', async () => {
    const { store } = twoPlatformStore();
    const dst = new MemoryImageStore();
    const r = await copy(store.source('multi'), dst.sink('multi'), { all: true, format: 'v2s2' });
    expect(r.root.mediaType).toBe(MediaType.DOCKER_MANIFEST_LIST);
    const list = parseImageIndex(dst.getManifest(r.root.digest)!.bytes);
    expect(list.index.manifests.map((d) => d.digest)).toEqual(r.manifests.slice(0, 2).map((d) => d.digest));
    for (const child of list.index.manifests) {
      expect(child.mediaType).toBe(MediaType.DOCKER_MANIFEST);
      expect(dst.getManifest(child.digest)).toBeDefined();
      expect(child.platform).toBeDefined();
    }
  });

  it('converting to the format the image already has changes nothing', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('l')], tag: 't', format: 'v2s2' });
    const r = await copy(src.source('t'), new MemoryImageStore().sink('t'), { format: 'v2s2' });
    expect(r.root.digest).toBe(img.manifest.digest);
    const r2 = await copy(src.source('t'), new MemoryImageStore().sink('t'), { format: 'oci' });
    expect(r2.root.mediaType).toBe(MediaType.OCI_MANIFEST);
  });

  it('fails with UNSUPPORTED before writing anything when a zstd image goes to v2s2', async () => {
    const src = new MemoryImageStore();
    const cfg = src.putImage({ layers: [] }).config;
    const z = src.putBlob(bytes('zstd'), MediaType.OCI_LAYER_ZSTD);
    const m = buildManifest({ config: cfg, layers: [z] });
    src.putManifest(m.bytes, 'z');
    const dst = new MemoryImageStore();
    const e = await copy(src.source('z'), dst.sink('z'), { format: 'v2s2' }).catch((x) => x);
    expect(e.code).toBe('UNSUPPORTED');
    expect(dst.blobs.size).toBe(0);
    expect(dst.manifests.size).toBe(0);
  });
});

describe('copy: failures', () => {
  it('rejects a blob whose bytes do not match its digest and leaves the sink without it, and without the manifest', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('good', 100), bytes('bad', 100)], tag: 't' });
    const bad = img.layers[1]!;
    const corrupt = bytes('bad', 100);
    corrupt[50] = 0x21;
    src.putBlobUnchecked(bad.digest, corrupt);
    const dst = new MemoryImageStore();
    const err = await copy(src.source('t'), dst.sink('t')).catch((e) => e);
    expect(err.code).toBe('DIGEST_INVALID');
    expect(err.message).toContain(bad.digest);
    expect(dst.getBlob(bad.digest)).toBeUndefined();
    expect(dst.manifests.size).toBe(0);
    expect(dst.tags.size).toBe(0);
    expect(dst.stats.commit).toBe(0);
  });

  it('leaves verification to a sink that declares verifiesBlobs, and still fails when that sink refuses the bytes', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('layer', 100)], tag: 't' });
    const dst = new MemoryImageStore();
    const inner = dst.sink('t');
    const seen: string[] = [];
    // A sink that checks nothing but records what reached it: copy must pass the bytes through unhashed and untouched.
    const trusting: ImageSink = {
      name: 'trusting',
      verifiesBlobs: true,
      hasBlob: async () => false,
      writeBlob: async (d, content) => {
        let n = 0;
        for await (const c of content) n += c.byteLength;
        seen.push(`${d.digest}:${n}`);
        if (d.digest === img.layers[0]!.digest) throw new LadeError('DIGEST_INVALID', 'refused by the sink itself');
      },
      writeManifest: (d, b, o) => inner.writeManifest(d, b, o),
    };
    const corrupt = bytes('layer', 100);
    corrupt[3] = 0x21;
    src.putBlobUnchecked(img.layers[0]!.digest, corrupt);
    const err = await copy(src.source('t'), trusting).catch((e) => e);
    expect(err.message).toBe('refused by the sink itself');
    expect(seen).toContain(`${img.layers[0]!.digest}:500`);
    expect(dst.manifests.size).toBe(0);
  });

  it('rejects a short blob with SIZE_INVALID and stores nothing of it', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('x', 100)], tag: 't' });
    src.putBlobUnchecked(img.layers[0]!.digest, bytes('x', 99));
    const dst = new MemoryImageStore();
    const err = await copy(src.source('t'), dst.sink('t')).catch((e) => e);
    expect(err.code).toBe('SIZE_INVALID');
    expect(dst.getBlob(img.layers[0]!.digest)).toBeUndefined();
    expect(dst.manifests.size).toBe(0);
  });

  it('rejects a source manifest whose bytes do not match the resolved digest', async () => {
    const src = new MemoryImageStore();
    const img = src.putImage({ layers: [bytes('x')], tag: 't' });
    const source = src.source('t');
    const lying: ImageSource = {
      ...source,
      fetchManifest: async () => enc.encode('{"schemaVersion":2,"manifests":[]}'),
    };
    const dst = new MemoryImageStore();
    const err = await copy(lying, dst.sink('t')).catch((e) => e);
    expect(['DIGEST_INVALID', 'SIZE_INVALID']).toContain(err.code);
    expect(img.manifest.digest).toBeDefined();
    expect(dst.blobs.size + dst.manifests.size).toBe(0);
  });

  it('on a failing sink write, cancels the other transfers and rethrows after they settle', async () => {
    const src = new MemoryImageStore();
    src.putImage({ layers: Array.from({ length: 6 }, (_, i) => bytes(`layer${i}`, 20_000)), tag: 't' });
    const slow = slowSource(src.source('t'), 2);
    const dst = new MemoryImageStore();
    const inner = dst.sink('t');
    let writes = 0;
    const failing: ImageSink = {
      ...inner,
      async writeBlob(d, c, o) {
        if (++writes === 2) {
          await c.cancel(new Error('disk full'));
          throw new Error('disk full');
        }
        return inner.writeBlob(d, c, o);
      },
    };
    await expect(copy(slow, failing, { concurrency: 3 })).rejects.toThrow('disk full');
    expect(slow.open).toBe(0);
    expect(dst.manifests.size).toBe(0);
    expect(slow.opened).toBeLessThan(7);
  });

  it('refuses to count a blob the sink stopped reading before its end (so its digest was never checked)', async () => {
    const src = new MemoryImageStore();
    src.putImage({ layers: [bytes('x', 1000)], tag: 't' });
    const dst = new MemoryImageStore();
    const inner = dst.sink('t');
    const lazy: ImageSink = {
      ...inner,
      async writeBlob(_d, c) {
        const reader = c.getReader();
        await reader.read();
        reader.releaseLock();
      },
    };
    await expect(copy(src.source('t'), lazy)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_INVALID' });
    expect(dst.manifests.size).toBe(0);
  });

  it('stops on abort: rejects with the reason, closes every stream, commits nothing', async () => {
    const src = new MemoryImageStore();
    src.putImage({ layers: Array.from({ length: 4 }, (_, i) => bytes(`L${i}`, 200_000)), tag: 't' });
    const slow = slowSource(src.source('t'), 5);
    const dst = new MemoryImageStore();
    const controller = new AbortController();
    const reason = new Error('user pressed ctrl-c');
    const p = copy(slow, dst.sink('t'), {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.type === 'downloading') controller.abort(reason);
      },
    });
    await expect(p).rejects.toBe(reason);
    expect(slow.open).toBe(0);
    expect(dst.manifests.size).toBe(0);
    expect(dst.stats.commit).toBe(0);
    expect([...dst.blobs.values()].every((b) => b.byteLength !== 800_000)).toBe(true);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const src = new MemoryImageStore();
    src.putImage({ layers: [bytes('x')], tag: 't' });
    const dst = new MemoryImageStore();
    await expect(
      copy(src.source('t'), dst.sink('t'), { signal: AbortSignal.abort(new Error('early')) }),
    ).rejects.toThrow('early');
    expect(dst.stats.hasBlob).toBe(0);
  });

  it('fails with MANIFEST_UNKNOWN for a tag the source does not have', async () => {
    const err = await copy(new MemoryImageStore().source('nope'), new MemoryImageStore().sink('x')).catch((e) => e);
    expect(err.code).toBe('MANIFEST_UNKNOWN');
  });

  it('ignores a throwing progress callback', async () => {
    const src = new MemoryImageStore();
    src.putImage({ layers: [bytes('x')], tag: 't' });
    const r = await copy(src.source('t'), new MemoryImageStore().sink('t'), {
      onProgress: () => {
        throw new Error('renderer bug');
      },
    });
    expect(r.blobs).toBe(2);
  });
});

describe('copy: concurrency', () => {
  for (const concurrency of [1, 2, 3, 5]) {
    it(`never has more than ${concurrency} blob(s) in flight, and reaches that bound`, async () => {
      const src = new MemoryImageStore();
      src.putImage({ layers: Array.from({ length: 8 }, (_, i) => bytes(`c${i}`, 150_000)), tag: 't' });
      const slow = slowSource(src.source('t'), 3);
      const r = await copy(slow, new MemoryImageStore().sink('t'), { concurrency });
      expect(r.blobs).toBe(9);
      expect(slow.maxOpen).toBeLessThanOrEqual(concurrency);
      expect(slow.maxOpen).toBe(concurrency);
      expect(slow.open).toBe(0);
    });
  }

  it('defaults to 3', async () => {
    const src = new MemoryImageStore();
    src.putImage({ layers: Array.from({ length: 6 }, (_, i) => bytes(`d${i}`, 150_000)), tag: 't' });
    const slow = slowSource(src.source('t'), 3);
    await copy(slow, new MemoryImageStore().sink('t'));
    expect(slow.maxOpen).toBe(3);
  });
});

describe('MemoryImageStore', () => {
  it('refuses a blob that does not match its descriptor and keeps nothing', async () => {
    const store = new MemoryImageStore();
    const sink = store.sink('x');
    const d = { mediaType: MediaType.OCI_LAYER, digest: hash('right'), size: 5 };
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode('wrong'));
        c.close();
      },
    });
    await expect(sink.writeBlob(d, stream)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(store.blobs.size).toBe(0);
  });

  it('refuses a manifest whose bytes do not match the descriptor', async () => {
    const store = new MemoryImageStore();
    const img = new MemoryImageStore().putImage({ layers: [] });
    await expect(
      store.sink('x').writeManifest({ ...img.manifest, digest: hash('other') }, img.manifestBytes, { root: true }),
    ).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(store.manifests.size).toBe(0);
    expect(store.tags.size).toBe(0);
  });

  it('serves blobs from an offset and names missing content with BLOB_UNKNOWN / MANIFEST_UNKNOWN', async () => {
    const store = new MemoryImageStore();
    const d = store.putBlob(enc.encode('hello world'));
    const s = store.source('x');
    const text = await new Response(await s.openBlob(d, { offset: 6 })).text();
    expect(text).toBe('world');
    await expect(s.openBlob({ ...d, digest: hash('missing') })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN' });
    await expect(s.fetchManifest({ ...d, digest: hash('missing') })).rejects.toMatchObject({
      code: 'MANIFEST_UNKNOWN',
    });
    await expect(s.resolve()).rejects.toMatchObject({ code: 'MANIFEST_UNKNOWN' });
  });

  it('resolves digests as well as tags, and a digest-bound sink refuses another root', async () => {
    const store = new MemoryImageStore();
    const img = store.putImage({ layers: [bytes('q')], tag: 'q' });
    expect((await store.source(img.manifest.digest).resolve()).digest).toBe(img.manifest.digest);
    const other = new MemoryImageStore();
    const r = await copy(store.source('q'), other.sink(img.manifest.digest));
    expect(r.root.digest).toBe(img.manifest.digest);
    const wrong = new MemoryImageStore();
    await expect(copy(store.source('q'), wrong.sink(hash('else')))).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
  });
});
