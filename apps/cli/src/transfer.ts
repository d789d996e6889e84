import type { CopyEvent, Descriptor, ImageSink, TransportOptions } from '@lade/manifest';
import type { ProgressWriter } from './progress.js';

/** docker's short layer id: the first 12 hex digits of the digest. */
export function shortId(digest: string): string {
  const hex = digest.slice(digest.indexOf(':') + 1);
  return hex.slice(0, 12);
}

function layerState() {
  const starts = new Map<string, number>();
  let queued = 0;
  return {
    /** True when this blob is beyond the first `concurrency` queued, i.e. docker would say `Waiting`. */
    queue(concurrency: number): boolean {
      queued++;
      return queued > concurrency;
    },
    start(d: Descriptor): number {
      let s = starts.get(d.digest);
      if (s === undefined) {
        s = Date.now();
        starts.set(d.digest, s);
      }
      return s;
    },
  };
}

/**
 * Renders `copy`'s events as docker pull's per-layer lines: `Pulling fs layer`, `Waiting`, `Downloading [==> ] a/b`,
 * `Verifying Checksum`, `Download complete`, `Pull complete`, `Already exists`. As in docker, a layer the store already
 * has shows only `Already exists` (its `Pulling fs layer` is held back a moment until the store has answered), and
 * `Pull complete` follows layer order (docker extracts bottom-up). The config blob is not shown.
 */
export function pullProgress(
  writer: ProgressWriter,
  concurrency = 3,
): ((event: CopyEvent) => void) & { dispose(): void } {
  const state = layerState();
  const order: string[] = [];
  const finished = new Map<string, 'exists' | 'pulled'>();
  const announced = new Set<string>();
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  let next = 0;
  const announce = (digest: string) => {
    const timer = timers.get(digest);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(digest);
    if (announced.has(digest)) return;
    announced.add(digest);
    void writer.update(shortId(digest), 'Pulling fs layer');
  };
  const flushCompleted = () => {
    for (; next < order.length; next++) {
      const digest = order[next] ?? '';
      const how = finished.get(digest);
      if (how === undefined) return;
      if (how === 'pulled') void writer.update(shortId(digest), 'Pull complete');
    }
  };
  const onProgress = (event: CopyEvent): void => {
    if (!('role' in event) || event.role !== 'layer') return;
    const digest = event.descriptor.digest;
    const id = shortId(digest);
    switch (event.type) {
      case 'waiting': {
        order.push(digest);
        const queued = state.queue(concurrency);
        timers.set(
          digest,
          setTimeout(() => {
            timers.delete(digest);
            if (finished.has(digest) || announced.has(digest)) return;
            announce(digest);
            if (queued) void writer.update(id, 'Waiting');
          }, 25),
        );
        break;
      }
      case 'downloading':
        announce(digest);
        void writer.update(id, 'Downloading', {
          current: event.transferred,
          total: event.total,
          start: state.start(event.descriptor),
        });
        break;
      case 'verifying':
        announce(digest);
        void writer.update(id, 'Verifying Checksum');
        break;
      case 'complete':
        announce(digest);
        void writer.update(id, 'Download complete');
        finished.set(digest, 'pulled');
        flushCompleted();
        break;
      case 'exists':
      case 'mounted': {
        const timer = timers.get(digest);
        if (timer !== undefined) clearTimeout(timer);
        timers.delete(digest);
        void writer.update(id, 'Already exists');
        finished.set(digest, 'exists');
        flushCompleted();
        break;
      }
      case 'skipped':
        void writer.update(id, 'Skipped foreign layer');
        break;
    }
  };
  /** Drops held-back lines (after a failed copy nothing more is printed for it). */
  const dispose = (): void => {
    for (const t of timers.values()) clearTimeout(t);
    timers.clear();
  };
  return Object.assign(onProgress, { dispose });
}

/**
 * Renders `copy`'s events as docker push's per-layer lines: `Preparing`, `Waiting`, `Pushing [==> ] a/b`, `Pushed`,
 * `Layer already exists`, `Mounted from <repository>`.
 */
export function pushProgress(
  writer: ProgressWriter,
  mountedFrom: string | undefined,
  concurrency = 3,
): (event: CopyEvent) => void {
  const state = layerState();
  // copy announces every blob of a manifest in one synchronous loop, base layer first; docker lists a push top layer
  // first, so the Preparing lines are written in reverse once the loop is over (a microtask later).
  let batch: { id: string; waiting: boolean }[] = [];
  const flush = () => {
    const top = batch.reverse();
    for (const { id } of top) void writer.update(id, 'Preparing');
    for (const { id, waiting } of top) if (waiting) void writer.update(id, 'Waiting');
    batch = [];
  };
  return (event) => {
    if (!('role' in event) || event.role !== 'layer') return;
    const id = shortId(event.descriptor.digest);
    if (event.type === 'waiting') {
      if (batch.length === 0) queueMicrotask(flush);
      batch.push({ id, waiting: state.queue(concurrency) });
      return;
    }
    if (batch.length > 0) flush();
    switch (event.type) {
      case 'downloading':
        void writer.update(id, 'Pushing', {
          current: event.transferred,
          total: event.total,
          start: state.start(event.descriptor),
        });
        break;
      case 'complete':
        void writer.update(id, 'Pushed');
        break;
      case 'exists':
        void writer.update(id, 'Layer already exists');
        break;
      case 'mounted':
        void writer.update(id, mountedFrom ? `Mounted from ${mountedFrom}` : 'Mounted');
        break;
      case 'skipped':
        void writer.update(id, 'Skipped foreign layer');
        break;
      case 'verifying':
        break;
    }
  };
}

/**
 * The sink with `mountBlob` replaced: blobs are mounted from a repository known to hold them (on the same registry)
 * instead of from the copy's source. docker mounts the layers of an image pulled from another repository this way.
 */
export function mountingFrom(
  sink: ImageSink,
  mount: (descriptor: Descriptor, options?: TransportOptions) => Promise<boolean>,
): ImageSink {
  return {
    name: sink.name,
    hasBlob: (d, o) => sink.hasBlob(d, o),
    writeBlob: (d, c, o) => sink.writeBlob(d, c, o),
    mountBlob: (d, _source, o) => mount(d, o),
    ...(sink.hasManifest ? { hasManifest: (d: Descriptor, o?: TransportOptions) => sink.hasManifest!(d, o) } : {}),
    writeManifest: (d, b, o) => sink.writeManifest(d, b, o),
    ...(sink.commit ? { commit: (o?: TransportOptions) => sink.commit!(o) } : {}),
    ...(sink.close ? { close: () => sink.close!() } : {}),
  };
}
