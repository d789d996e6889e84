import type { CopyEvent, Descriptor } from '@lade/manifest';
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
 * `Verifying Checksum`, `Download complete`, `Pull complete`, `Already exists`. The config blob is not shown (docker
 * does not show it either).
 */
export function pullProgress(writer: ProgressWriter, concurrency = 3): (event: CopyEvent) => void {
  const state = layerState();
  return (event) => {
    if (!('role' in event) || event.role !== 'layer') return;
    const id = shortId(event.descriptor.digest);
    switch (event.type) {
      case 'waiting':
        void writer.update(id, 'Pulling fs layer');
        if (state.queue(concurrency)) void writer.update(id, 'Waiting');
        break;
      case 'downloading':
        void writer.update(id, 'Downloading', {
          current: event.transferred,
          total: event.total,
          start: state.start(event.descriptor),
        });
        break;
      case 'verifying':
        void writer.update(id, 'Verifying Checksum');
        break;
      case 'complete':
        void writer.update(id, 'Download complete');
        void writer.update(id, 'Pull complete');
        break;
      case 'exists':
      case 'mounted':
        void writer.update(id, 'Already exists');
        break;
      case 'skipped':
        void writer.update(id, 'Skipped foreign layer');
        break;
    }
  };
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
  return (event) => {
    if (!('role' in event) || event.role !== 'layer') return;
    const id = shortId(event.descriptor.digest);
    switch (event.type) {
      case 'waiting':
        void writer.update(id, 'Preparing');
        if (state.queue(concurrency)) void writer.update(id, 'Waiting');
        break;
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
