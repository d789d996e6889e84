/** `ADD <url>`: the download, its file name and time, and `--checksum`. */
import { createHash } from 'node:crypto';
import type { Spool } from './spool.js';

/** A downloaded file as ADD places it. */
export interface Download {
  /** The name ADD gives it when the destination is a directory. */
  readonly filename: string;
  /** The spooled file holding the content, and its size. */
  readonly path: string;
  readonly size: number;
  /** Seconds since the epoch from Last-Modified, when the server sent one. */
  readonly mtime?: number;
}

/** True for the sources ADD downloads. */
export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

/** True for sources that look like a URL of another scheme (`ftp://`, `git@…` is left to the context). */
export function isOtherUrl(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !isUrl(source);
}

/** A failed download, its reason in one line. */
export class DownloadError extends Error {}

/** `sha256:<hex>` (or sha384/sha512) as `--checksum` takes it; undefined when malformed. */
export function parseChecksum(value: string): { algorithm: string; hex: string } | undefined {
  const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/.exec(value);
  if (!m) return undefined;
  const want = { sha256: 64, sha384: 96, sha512: 128 }[m[1] as 'sha256' | 'sha384' | 'sha512'];
  return (m[2] as string).length === want ? { algorithm: m[1] as string, hex: m[2] as string } : undefined;
}

/** The name BuildKit gives a download: the last element of the URL's path (`__unnamed__` when it has none). */
function filenameOf(url: URL): string {
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    path = url.pathname;
  }
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  // A percent-encoded `..` must not name the file: it would land outside the destination directory.
  return base === '' || base === '.' || base === '..' ? '__unnamed__' : base;
}

/**
 * Downloads `url` (http or https) as BuildKit's ADD does: the file is named by the URL's last path component (not by
 * Content-Disposition), its time is Last-Modified; `checksum` is verified.
 */
export async function download(
  url: string,
  spool: Spool,
  checksum?: { algorithm: string; hex: string },
  signal?: AbortSignal,
): Promise<Download> {
  const u = new URL(url);
  let res: Response;
  try {
    res = await fetch(u, { redirect: 'follow', ...(signal ? { signal } : {}) });
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
    throw new DownloadError(`cannot download ${url}: ${cause}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    throw new DownloadError(`cannot download ${url}: the server answered ${res.status} ${res.statusText}`.trimEnd());
  }
  const hash = createHash(checksum?.algorithm ?? 'sha256');
  let size = 0;
  const counted = (res.body ?? new Response(new Uint8Array()).body)?.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        size += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  ) as ReadableStream<Uint8Array>;
  let path: string;
  try {
    path = await spool.write(counted);
  } catch (e) {
    throw new DownloadError(`cannot download ${url}: ${(e as Error).message}`);
  }
  if (checksum) {
    const got = hash.digest('hex');
    if (got !== checksum.hex)
      throw new DownloadError(
        `${url} has ${checksum.algorithm}:${got}, not the --checksum ${checksum.algorithm}:${checksum.hex}`,
      );
  }
  const lm = res.headers.get('last-modified');
  const t = lm ? Date.parse(lm) : Number.NaN;
  return {
    filename: filenameOf(u),
    path,
    size,
    ...(Number.isFinite(t) ? { mtime: Math.floor(t / 1000) } : {}),
  };
}
