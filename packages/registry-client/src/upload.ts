import type { Digest } from '@lade/digest';
import { SizeInvalidError } from '@lade/digest';
import type { Descriptor } from '@lade/manifest';
import { pushScope } from './auth.js';
import {
  BlobUploadUnknownError,
  RegistryConnectionError,
  RegistryError,
  RegistryProtocolError,
  type RequestSubject,
} from './errors.js';
import { discard, type HttpResponse } from './http.js';
import type { Registry } from './registry.js';

/** How a blob got into the repository. */
export type BlobUploadResult = 'exists' | 'mounted' | 'uploaded';

/** Options of {@link Registry.uploadBlob}. */
export interface BlobUploadOptions {
  readonly signal?: AbortSignal;
  /** Called with the bytes the registry has accepted so far. */
  readonly onProgress?: (transferred: number) => void;
  /** Repositories of the same registry that hold the blob: a cross-repository mount is tried first. */
  readonly mountFrom?: readonly string[];
  /** Skip the `HEAD` that checks whether the blob is already there. */
  readonly skipExistsCheck?: boolean;
  /** Bytes per `PATCH` of a chunked upload; blobs no larger go in one `PUT` (default: the registry's chunkSize). */
  readonly chunkSize?: number;
  /** Resend an interrupted chunk at most this many times in a row (default 5). */
  readonly maxChunkRetries?: number;
}

/** An upload session: where to send the next request. */
interface Session {
  location: string;
  offset: number;
}

/**
 * Reads up to `size` bytes from a reader into one buffer (less only at the end of the stream); `into` is reused when
 * given (a chunk is sent and acknowledged before the next one is read, so one buffer per upload suffices).
 */
async function readChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  size: number,
  carry: { rest: Uint8Array | undefined },
  into?: Uint8Array,
): Promise<Uint8Array> {
  const out = into && into.byteLength >= size ? into : new Uint8Array(size);
  let n = 0;
  if (carry.rest) {
    const take = Math.min(size, carry.rest.byteLength);
    out.set(carry.rest.subarray(0, take), 0);
    n = take;
    carry.rest = take < carry.rest.byteLength ? carry.rest.subarray(take) : undefined;
  }
  while (n < size) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(size - n, value.byteLength);
    out.set(value.subarray(0, take), n);
    n += take;
    if (take < value.byteLength) carry.rest = value.subarray(take);
  }
  return n === out.byteLength ? out : out.subarray(0, n);
}

function withDigest(location: string, digest: string): string {
  const u = new URL(location);
  u.searchParams.append('digest', digest);
  return u.toString();
}

function locationOf(res: HttpResponse, requestUrl: string, subject: RequestSubject): string {
  const loc = res.headers.get('location');
  if (!loc)
    throw new RegistryProtocolError(
      'UNKNOWN',
      `${subject.host}/${subject.repository}: the registry started an upload without a Location header`,
      subject,
    );
  return new URL(loc, requestUrl).toString();
}

function rangeEnd(res: HttpResponse): number | undefined {
  const m = /^(?:bytes=)?0-(\d+)$/.exec((res.headers.get('range') ?? '').trim());
  return m ? Number(m[1]) : undefined;
}

/**
 * Pushes one blob: `HEAD` to skip it when present, a cross-repository mount when `mountFrom` names a repository,
 * otherwise `POST` a session and either `PUT` it whole (up to `chunkSize`) or `PATCH` it in chunks and `PUT` the digest.
 * A chunk whose connection breaks is resumed at the offset the registry reports (`GET` the session's status).
 * On failure or abort the session is cancelled (`DELETE`).
 */
export async function uploadBlob(
  registry: Registry,
  repository: string,
  descriptor: Pick<Descriptor, 'digest' | 'size'>,
  content: ReadableStream<Uint8Array> | Uint8Array,
  options: BlobUploadOptions = {},
): Promise<BlobUploadResult> {
  const subject: RequestSubject = { kind: 'upload', host: registry.host, repository, reference: descriptor.digest };
  const scopes = [pushScope(repository), ...(options.mountFrom ?? []).map((r) => `repository:${r}:pull`)];
  const signal = options.signal;
  const sig = signal ? { signal } : {};
  const cancelContent = async () => {
    if (!(content instanceof Uint8Array)) await content.cancel().catch(() => {});
  };

  if (!options.skipExistsCheck) {
    const have = await registry
      .headBlob(repository, descriptor.digest, { ...sig, scopes })
      .catch(async (e: unknown) => {
        await cancelContent();
        throw e;
      });
    if (have !== undefined) {
      await cancelContent();
      options.onProgress?.(descriptor.size);
      return 'exists';
    }
  }

  let session: Session | undefined;
  try {
    for (const from of options.mountFrom ?? []) {
      const m = await mountOrStart(registry, repository, descriptor.digest, from, scopes, signal);
      if (m === 'mounted') {
        await cancelContent();
        options.onProgress?.(descriptor.size);
        return 'mounted';
      }
      // 202: the registry refused to mount and opened a session instead; reuse it for the first, cancel the rest.
      if (session) await cancelUpload(registry, repository, m.location, signal);
      else session = m;
    }
    session ??= await startUpload(registry, repository, scopes, signal);
  } catch (e) {
    await cancelContent();
    if (session) await cancelUpload(registry, repository, session.location).catch(() => {});
    throw e;
  }

  try {
    await sendContent(registry, repository, descriptor, content, session, scopes, subject, options);
    return 'uploaded';
  } catch (e) {
    await cancelContent();
    await cancelUpload(registry, repository, session.location).catch(() => {});
    throw e;
  }
}

async function startUpload(
  registry: Registry,
  repository: string,
  scopes: readonly string[],
  signal: AbortSignal | undefined,
): Promise<Session> {
  const subject: RequestSubject = { kind: 'upload', host: registry.host, repository };
  const path = `/v2/${repository}/blobs/uploads/`;
  const res = await registry.request({
    method: 'POST',
    path,
    headers: { 'content-length': '0' },
    scopes,
    subject,
    ...(signal ? { signal } : {}),
  });
  await discard(res);
  if (res.status !== 202) {
    throw new RegistryProtocolError(
      'UNKNOWN',
      `${registry.host}/${repository}: starting an upload answered ${res.status}, expected 202`,
      subject,
    );
  }
  return { location: locationOf(res, `${await registry.baseUrl()}${path}`, subject), offset: 0 };
}

/** `POST ?mount=&from=`: 'mounted' (201), or the session the registry opened instead (202). */
export async function mountOrStart(
  registry: Registry,
  repository: string,
  digest: Digest | string,
  from: string,
  scopes: readonly string[],
  signal?: AbortSignal,
): Promise<'mounted' | Session> {
  const subject: RequestSubject = { kind: 'upload', host: registry.host, repository, reference: digest };
  const path = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  const res = await registry.request({
    method: 'POST',
    path,
    headers: { 'content-length': '0' },
    scopes,
    subject,
    ...(signal ? { signal } : {}),
  });
  await discard(res);
  if (res.status === 201) return 'mounted';
  if (res.status === 202)
    return { location: locationOf(res, `${await registry.baseUrl()}${path}`, subject), offset: 0 };
  throw new RegistryProtocolError(
    'UNKNOWN',
    `${registry.host}/${repository}: mounting ${digest} from ${from} answered ${res.status}`,
    subject,
  );
}

/** `DELETE` an upload session (best effort: a session that is already gone is fine). */
export async function cancelUpload(
  registry: Registry,
  repository: string,
  location: string,
  signal?: AbortSignal,
): Promise<void> {
  const res = await registry.request({
    method: 'DELETE',
    path: location,
    scopes: [pushScope(repository)],
    allow: [400, 404],
    retry: false,
    subject: { kind: 'upload', host: registry.host, repository },
    ...(signal ? { signal } : {}),
  });
  await discard(res);
}

async function sendContent(
  registry: Registry,
  repository: string,
  descriptor: Pick<Descriptor, 'digest' | 'size'>,
  content: ReadableStream<Uint8Array> | Uint8Array,
  session: Session,
  scopes: readonly string[],
  subject: RequestSubject,
  options: BlobUploadOptions,
): Promise<void> {
  const signal = options.signal;
  const sig = signal ? { signal } : {};
  const chunkSize = Math.max(1, options.chunkSize ?? registry.chunkSize);
  const name = `blob ${descriptor.digest}`;

  // Whole blobs that fit one chunk go in a single PUT (monolithic upload), replayable after a 401 or a 5xx.
  if (content instanceof Uint8Array || (descriptor.size >= 0 && descriptor.size <= chunkSize)) {
    let bytes: Uint8Array;
    if (content instanceof Uint8Array) bytes = content;
    else {
      const reader = content.getReader();
      try {
        bytes = await readChunk(reader, descriptor.size + 1, { rest: undefined });
      } catch (e) {
        await reader.cancel(e).catch(() => {});
        throw e;
      }
      reader.releaseLock();
    }
    if (descriptor.size >= 0 && bytes.byteLength !== descriptor.size) {
      throw new SizeInvalidError(
        `${name}: the content has ${bytes.byteLength > descriptor.size ? 'more' : 'fewer'} bytes than the expected ${descriptor.size}; not pushed`,
      );
    }
    await complete(registry, repository, descriptor, scopes, subject, signal, () =>
      registry.request({
        method: 'PUT',
        path: withDigest(session.location, descriptor.digest),
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
        scopes,
        subject,
        ...sig,
      }),
    );
    options.onProgress?.(bytes.byteLength);
    return;
  }

  const reader = content.getReader();
  try {
    await sendChunks(registry, repository, descriptor, reader, session, scopes, subject, options, chunkSize);
  } catch (e) {
    await reader.cancel(e).catch(() => {});
    throw e;
  }
  reader.releaseLock();
  if (descriptor.size >= 0 && session.offset !== descriptor.size) {
    throw new SizeInvalidError(
      `${name}: the content ended after ${session.offset} of ${descriptor.size} bytes; not pushed`,
    );
  }
  await complete(registry, repository, descriptor, scopes, subject, signal, () =>
    registry.request({
      method: 'PUT',
      path: withDigest(session.location, descriptor.digest),
      headers: { 'content-type': 'application/octet-stream', 'content-length': '0' },
      scopes,
      subject,
      ...sig,
    }),
  );
}

/**
 * Sends the final PUT. When it fails in a way that may hide success (the answer was lost, or a retried PUT finds the
 * session already closed), a HEAD decides: a blob of the right size is there, so the upload completed.
 */
async function complete(
  registry: Registry,
  repository: string,
  descriptor: Pick<Descriptor, 'digest' | 'size'>,
  scopes: readonly string[],
  subject: RequestSubject,
  signal: AbortSignal | undefined,
  put: () => Promise<HttpResponse>,
): Promise<void> {
  let res: HttpResponse;
  try {
    res = await put();
  } catch (e) {
    const ambiguous =
      e instanceof RegistryConnectionError ||
      (e instanceof RegistryError &&
        (e.code === 'BLOB_UPLOAD_UNKNOWN' || e.code === 'BLOB_UPLOAD_INVALID' || (e.status ?? 0) >= 500));
    if (!ambiguous || signal?.aborted) throw e;
    const size = await registry
      .headBlob(repository, descriptor.digest, { scopes, ...(signal ? { signal } : {}) })
      .catch(() => undefined);
    if (size !== undefined && (descriptor.size < 0 || size === descriptor.size || size === -1)) return;
    throw e;
  }
  await finish(res, descriptor, subject);
}

/**
 * PATCHes the content chunk by chunk. Two buffers alternate: the next chunk is read from the source while the current
 * one is on the wire, and a chunk stays in memory until the registry acknowledged it, so it can be sent again.
 */
async function sendChunks(
  registry: Registry,
  repository: string,
  descriptor: Pick<Descriptor, 'digest' | 'size'>,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  session: Session,
  scopes: readonly string[],
  subject: RequestSubject,
  options: BlobUploadOptions,
  chunkSize: number,
): Promise<void> {
  const signal = options.signal;
  const sig = signal ? { signal } : {};
  const name = `blob ${descriptor.digest}`;
  const carry: { rest: Uint8Array | undefined } = { rest: undefined };
  const maxRetries = options.maxChunkRetries ?? 5;
  const size = descriptor.size >= 0 ? Math.min(chunkSize, descriptor.size) : chunkSize;
  const buffers = [new Uint8Array(size), new Uint8Array(size)] as const;
  let which = 0;
  let next = readChunk(reader, size, carry, buffers[0]);
  for (;;) {
    const chunk = await next;
    if (chunk.byteLength === 0) break;
    which ^= 1;
    next = readChunk(reader, size, carry, buffers[which]);
    // Rejections surface when awaited in the next round; never unhandled if this round fails first.
    next.catch(() => {});
    if (descriptor.size >= 0 && session.offset + chunk.byteLength > descriptor.size) {
      throw new SizeInvalidError(
        `${name}: the content is longer than the expected ${descriptor.size} bytes; not pushed`,
      );
    }
    const chunkStart = session.offset;
    let failures = 0;
    // Send the rest of this chunk until the registry has all of it; after a broken connection ask where it stands.
    while (session.offset < chunkStart + chunk.byteLength) {
      const part = chunk.subarray(session.offset - chunkStart);
      try {
        const res = await registry.request({
          method: 'PATCH',
          path: session.location,
          headers: {
            'content-type': 'application/octet-stream',
            'content-range': `${session.offset}-${session.offset + part.byteLength - 1}`,
          },
          body: part,
          scopes,
          retry: false,
          subject,
          ...sig,
        });
        await discard(res);
        const end = rangeEnd(res);
        session.location = locationOf(res, session.location, subject);
        session.offset = end !== undefined ? end + 1 : session.offset + part.byteLength;
        options.onProgress?.(session.offset);
      } catch (e) {
        if (signal?.aborted || !retryableChunkError(e) || ++failures > maxRetries) throw e;
        await new Promise((r) => setTimeout(r, Math.min(4000, 200 * 2 ** (failures - 1))));
        const status = await uploadStatus(registry, repository, session.location, scopes, signal);
        if (status.offset < chunkStart || status.offset > chunkStart + chunk.byteLength) {
          throw new BlobUploadUnknownError(
            'BLOB_UPLOAD_INVALID',
            `${name}: after an interrupted chunk the registry holds ${status.offset} bytes, outside the chunk ${chunkStart}-${chunkStart + chunk.byteLength - 1}; push again`,
            subject,
          );
        }
        session.location = status.location;
        session.offset = status.offset;
      }
    }
  }
}

function retryableChunkError(e: unknown): boolean {
  if (e instanceof RegistryConnectionError) return true;
  return (
    e instanceof RegistryError && e.status !== undefined && (e.status >= 500 || e.status === 408 || e.status === 429)
  );
}

/** `GET` an upload session: the bytes the registry holds and the session's current Location. */
export async function uploadStatus(
  registry: Registry,
  repository: string,
  location: string,
  scopes: readonly string[],
  signal?: AbortSignal,
): Promise<Session> {
  const subject: RequestSubject = { kind: 'upload', host: registry.host, repository };
  const res = await registry.request({ method: 'GET', path: location, scopes, subject, ...(signal ? { signal } : {}) });
  await discard(res);
  const end = rangeEnd(res);
  const loc = res.headers.get('location');
  return {
    location: loc ? new URL(loc, location).toString() : location,
    // distribution answers `0-0` for an empty session as for one byte; an empty chunk start is the safe reading.
    offset: end === undefined || end === 0 ? 0 : end + 1,
  };
}

async function finish(
  res: HttpResponse,
  descriptor: Pick<Descriptor, 'digest'>,
  subject: RequestSubject,
): Promise<void> {
  await discard(res);
  const got = res.headers.get('docker-content-digest');
  if (got && got !== descriptor.digest) {
    throw new RegistryProtocolError(
      'DIGEST_INVALID',
      `blob ${descriptor.digest}: the registry stored it as ${got}; the registry is broken`,
      subject,
    );
  }
}
