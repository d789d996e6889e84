import { createHash, createHmac } from 'node:crypto';
import { StorageError } from '../errors.js';
import { checkPath, type FileInfo, type FileWriter, type StorageDriver } from './driver.js';

/** Options of the S3 driver (distribution's `storage.s3`). */
export interface S3DriverOptions {
  readonly bucket: string;
  readonly region?: string;
  /** An S3-compatible endpoint, e.g. `http://127.0.0.1:7480`; default AWS. */
  readonly endpoint?: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Key prefix for everything the registry stores. */
  readonly rootDirectory?: string;
  /** Address buckets as `endpoint/bucket` (default true; needed by most self-hosted servers). */
  readonly forcePathStyle?: boolean;
  /** Multipart part size in bytes (default 10 MiB; S3's minimum is 5 MiB). */
  readonly partSize?: number;
  /** The fetch used for requests (default: global fetch). */
  readonly fetch?: typeof fetch;
}

const MIN_PART = 5 * 1024 * 1024;
const MAX_COPY = 5 * 1024 * 1024 * 1024;
const EMPTY_SHA = createHash('sha256').update('').digest('hex');

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeRfc3986).join('/');
}

function xmlValues(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  for (const m of xml.matchAll(re)) out.push(unescapeXml(m[1]!));
  return out;
}

function unescapeXml(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

interface MultipartUpload {
  uploadPart(body: Uint8Array): Promise<void>;
  copyPart(fromKey: string, start: number, end: number): Promise<void>;
  complete(): Promise<void>;
  abort(): Promise<void>;
}

interface S3Request {
  readonly method: string;
  readonly key?: string;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array;
  /** Hash of the body for the signature (default: computed; UNSIGNED-PAYLOAD is not used so every server accepts it). */
}

/**
 * An S3-compatible storage driver with AWS Signature V4 (node:crypto) and multipart uploads: appending writers upload
 * fixed-size parts, reusing existing content with UploadPartCopy, so no blob is ever held in memory whole.
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  readonly #o: S3DriverOptions;
  readonly #endpoint: URL;
  readonly #region: string;
  readonly #root: string;
  readonly #partSize: number;
  readonly #fetch: typeof fetch;
  readonly #pathStyle: boolean;

  constructor(options: S3DriverOptions) {
    this.#o = options;
    this.#region = options.region ?? 'us-east-1';
    this.#endpoint = new URL(options.endpoint ?? `https://s3.${this.#region}.amazonaws.com`);
    this.#root = (options.rootDirectory ?? '').replace(/^\/+|\/+$/g, '');
    this.#partSize = Math.max(options.partSize ?? 10 * 1024 * 1024, MIN_PART);
    this.#fetch = options.fetch ?? fetch;
    this.#pathStyle = options.forcePathStyle ?? true;
  }

  #key(path: string): string {
    checkPath(path);
    const rel = path.slice(1);
    return this.#root ? (rel ? `${this.#root}/${rel}` : this.#root) : rel;
  }

  async #send(req: S3Request): Promise<Response> {
    const host = this.#pathStyle ? this.#endpoint.host : `${this.#o.bucket}.${this.#endpoint.host}`;
    const basePath = this.#endpoint.pathname.replace(/\/+$/, '');
    const canonicalUri = `${basePath}${this.#pathStyle ? `/${encodeRfc3986(this.#o.bucket)}` : ''}/${req.key ? encodeKey(req.key) : ''}`;
    const query = Object.entries(req.query ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const canonicalQuery = query.map(([k, v]) => `${encodeRfc3986(k)}=${encodeRfc3986(v)}`).join('&');
    const now = new Date();
    const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const payloadHash = req.body ? createHash('sha256').update(req.body).digest('hex') : EMPTY_SHA;
    const headers: Record<string, string> = {
      host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': payloadHash,
      ...Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    };
    if (this.#o.sessionToken) headers['x-amz-security-token'] = this.#o.sessionToken;
    const signed = Object.keys(headers).sort();
    const canonicalHeaders = signed.map((h) => `${h}:${headers[h]!.trim().replace(/\s+/g, ' ')}\n`).join('');
    const canonical = [req.method, canonicalUri, canonicalQuery, canonicalHeaders, signed.join(';'), payloadHash].join(
      '\n',
    );
    const scope = `${day}/${this.#region}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join(
      '\n',
    );
    let k = createHmac('sha256', `AWS4${this.#o.secretAccessKey}`).update(day).digest();
    k = createHmac('sha256', k).update(this.#region).digest();
    k = createHmac('sha256', k).update('s3').digest();
    k = createHmac('sha256', k).update('aws4_request').digest();
    const signature = createHmac('sha256', k).update(toSign).digest('hex');
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${this.#o.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`;
    delete headers.host;
    const url = `${this.#endpoint.protocol}//${host}${canonicalUri}${canonicalQuery ? `?${canonicalQuery}` : ''}`;
    return this.#fetch(url, {
      method: req.method,
      headers,
      ...(req.body ? { body: req.body as Uint8Array<ArrayBuffer> } : {}),
    });
  }

  async #ok(req: S3Request, what: string, allow: number[] = []): Promise<Response> {
    let last: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      let res: Response;
      try {
        res = await this.#send(req);
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        continue;
      }
      if (res.ok || allow.includes(res.status)) return res;
      const text = await res.text().catch(() => '');
      if (res.status >= 500 || res.status === 429) {
        last = new Error(`${res.status} ${text.slice(0, 200)}`);
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        continue;
      }
      throw new StorageError(
        'STORAGE_FAILED',
        `S3 ${what} failed: ${res.status} ${xmlValues(text, 'Code')[0] ?? ''} ${xmlValues(text, 'Message')[0] ?? text.slice(0, 200)}`,
      );
    }
    throw new StorageError('STORAGE_FAILED', `S3 ${what} failed after retries: ${(last as Error)?.message ?? last}`, {
      cause: last,
    });
  }

  /** Creates the bucket when it does not exist yet (for tests and first starts). */
  async ensureBucket(): Promise<void> {
    const res = await this.#ok({ method: 'PUT' }, `CREATE BUCKET ${this.#o.bucket}`, [409]);
    await res.text();
  }

  async getContent(path: string): Promise<Uint8Array | undefined> {
    const res = await this.#ok({ method: 'GET', key: this.#key(path) }, `GET ${path}`, [404]);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  async putContent(path: string, content: Uint8Array): Promise<void> {
    await (await this.#ok({ method: 'PUT', key: this.#key(path), body: content }, `PUT ${path}`)).body?.cancel();
  }

  async reader(path: string, offset = 0, end?: number): Promise<ReadableStream<Uint8Array> | undefined> {
    if (end !== undefined && end <= offset) {
      return (await this.stat(path)) ? new ReadableStream<Uint8Array>({ start: (c) => c.close() }) : undefined;
    }
    const headers: Record<string, string> = {};
    if (offset > 0 || end !== undefined) headers.range = `bytes=${offset}-${end !== undefined ? end - 1 : ''}`;
    const res = await this.#ok({ method: 'GET', key: this.#key(path), headers }, `GET ${path}`, [404, 416]);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (res.status === 416) {
      await res.body?.cancel();
      return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    }
    return res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  }

  async stat(path: string): Promise<FileInfo | undefined> {
    const key = this.#key(path);
    if (key !== '' && key !== this.#root) {
      const res = await this.#ok({ method: 'HEAD', key }, `HEAD ${path}`, [404]);
      await res.body?.cancel();
      if (res.ok) {
        return {
          path,
          size: Number(res.headers.get('content-length') ?? '0'),
          modTime: new Date(res.headers.get('last-modified') ?? Date.now()),
          isDir: false,
        };
      }
    }
    const prefix = key ? `${key}/` : '';
    const list = await this.#ok(
      { method: 'GET', query: { 'list-type': '2', prefix, 'max-keys': '1' } },
      `LIST ${path}`,
    );
    const xml = await list.text();
    return xmlValues(xml, 'Key').length > 0 ? { path, size: 0, modTime: new Date(), isDir: true } : undefined;
  }

  async list(path: string): Promise<string[]> {
    const key = this.#key(path);
    const prefix = key ? `${key}/` : '';
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix, delimiter: '/', 'max-keys': '1000' };
      if (token) query['continuation-token'] = token;
      const xml = await (await this.#ok({ method: 'GET', query }, `LIST ${path}`)).text();
      for (const k of xmlValues(xml, 'Key'))
        if (k.startsWith(prefix) && k !== prefix) names.add(k.slice(prefix.length));
      for (const block of xmlValues(xml, 'CommonPrefixes')) {
        for (const p of xmlValues(block, 'Prefix')) names.add(p.slice(prefix.length).replace(/\/$/, ''));
      }
      token = xmlValues(xml, 'IsTruncated')[0] === 'true' ? xmlValues(xml, 'NextContinuationToken')[0] : undefined;
    } while (token);
    return [...names].filter(Boolean).sort();
  }

  async #allKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix, 'max-keys': '1000' };
      if (token) query['continuation-token'] = token;
      const xml = await (await this.#ok({ method: 'GET', query }, `LIST ${prefix}`)).text();
      keys.push(...xmlValues(xml, 'Key'));
      token = xmlValues(xml, 'IsTruncated')[0] === 'true' ? xmlValues(xml, 'NextContinuationToken')[0] : undefined;
    } while (token);
    return keys;
  }

  async delete(path: string): Promise<void> {
    const key = this.#key(path);
    const keys = [key, ...(await this.#allKeys(`${key}/`))];
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const body = new TextEncoder().encode(
        `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>${batch.map((k) => `<Object><Key>${escapeXml(k)}</Key></Object>`).join('')}</Delete>`,
      );
      const md5 = createHash('md5').update(body).digest('base64');
      await (
        await this.#ok(
          {
            method: 'POST',
            query: { delete: '' },
            headers: { 'content-md5': md5, 'content-type': 'application/xml' },
            body,
          },
          `DELETE ${path}`,
        )
      ).text();
    }
  }

  async move(source: string, destination: string): Promise<void> {
    const info = await this.stat(source);
    if (!info || info.isDir) throw new StorageError('PATH_NOT_FOUND', `cannot move ${source}: it does not exist`);
    const from = this.#key(source);
    const to = this.#key(destination);
    if (info.size <= MAX_COPY) {
      const res = await this.#ok(
        { method: 'PUT', key: to, headers: { 'x-amz-copy-source': `/${this.#o.bucket}/${encodeKey(from)}` } },
        `COPY ${source}`,
      );
      const text = await res.text();
      if (/<Error>/.test(text))
        throw new StorageError(
          'STORAGE_FAILED',
          `S3 COPY ${source} failed: ${xmlValues(text, 'Message')[0] ?? text.slice(0, 200)}`,
        );
    } else {
      const mp = await this.#multipart(to);
      try {
        for (let start = 0; start < info.size; start += MAX_COPY)
          await mp.copyPart(from, start, Math.min(start + MAX_COPY, info.size));
        await mp.complete();
      } catch (err) {
        await mp.abort();
        throw err;
      }
    }
    await (await this.#ok({ method: 'DELETE', key: from }, `DELETE ${source}`, [404])).body?.cancel();
  }

  async #multipart(key: string): Promise<MultipartUpload> {
    const xml = await (
      await this.#ok({ method: 'POST', key, query: { uploads: '' } }, `CREATE MULTIPART ${key}`)
    ).text();
    const uploadId = xmlValues(xml, 'UploadId')[0];
    if (!uploadId) throw new StorageError('STORAGE_FAILED', `S3 did not start a multipart upload for ${key}`);
    const etags: string[] = [];
    return {
      uploadPart: async (body: Uint8Array) => {
        const n = etags.length + 1;
        const res = await this.#ok(
          { method: 'PUT', key, query: { partNumber: String(n), uploadId }, body },
          `UPLOAD PART ${n} ${key}`,
        );
        await res.body?.cancel();
        etags.push(res.headers.get('etag') ?? '');
      },
      copyPart: async (fromKey: string, start: number, end: number) => {
        const n = etags.length + 1;
        const res = await this.#ok(
          {
            method: 'PUT',
            key,
            query: { partNumber: String(n), uploadId },
            headers: {
              'x-amz-copy-source': `/${this.#o.bucket}/${encodeKey(fromKey)}`,
              'x-amz-copy-source-range': `bytes=${start}-${end - 1}`,
            },
          },
          `COPY PART ${n} ${key}`,
        );
        const text = await res.text();
        const etag = xmlValues(text, 'ETag')[0];
        if (!etag)
          throw new StorageError('STORAGE_FAILED', `S3 UploadPartCopy for ${key} failed: ${text.slice(0, 200)}`);
        etags.push(etag);
      },
      complete: async () => {
        const body = new TextEncoder().encode(
          `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${escapeXml(e)}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
        );
        const text = await (
          await this.#ok(
            { method: 'POST', key, query: { uploadId }, body, headers: { 'content-type': 'application/xml' } },
            `COMPLETE ${key}`,
          )
        ).text();
        if (/<Error>/.test(text))
          throw new StorageError(
            'STORAGE_FAILED',
            `S3 CompleteMultipartUpload for ${key} failed: ${xmlValues(text, 'Message')[0] ?? text.slice(0, 200)}`,
          );
      },
      abort: async () => {
        await (await this.#ok({ method: 'DELETE', key, query: { uploadId } }, `ABORT ${key}`, [404])).body
          ?.cancel()
          .catch(() => {});
      },
    };
  }

  async writer(path: string, append: boolean): Promise<FileWriter> {
    const key = this.#key(path);
    const partSize = this.#partSize;
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let size = 0;
    let mp: MultipartUpload | undefined;
    const existing = append ? await this.stat(path) : undefined;
    if (existing && !existing.isDir && existing.size > 0) {
      if (existing.size >= MIN_PART) {
        // Reuse what is stored server-side; parts after it arrive from this writer.
        mp = await this.#multipart(key);
        for (let start = 0; start < existing.size; start += MAX_COPY)
          await mp.copyPart(key, start, Math.min(start + MAX_COPY, existing.size));
      } else {
        const head = await this.getContent(path);
        if (head) {
          pending.push(head);
          pendingBytes = head.byteLength;
        }
      }
      size = existing.size;
    }
    const take = (): Uint8Array => {
      const out = new Uint8Array(pendingBytes);
      let at = 0;
      for (const c of pending) {
        out.set(c, at);
        at += c.byteLength;
      }
      pending = [];
      pendingBytes = 0;
      return out;
    };
    let done = false;
    return {
      get size() {
        return size;
      },
      write: async (chunk) => {
        if (done) throw new StorageError('STORAGE_FAILED', `writer for ${path} is closed`);
        pending.push(chunk.slice());
        pendingBytes += chunk.byteLength;
        size += chunk.byteLength;
        if (pendingBytes >= partSize) {
          mp ??= await this.#multipart(key);
          await mp.uploadPart(take());
        }
      },
      commit: async () => {
        if (done) return;
        done = true;
        if (!mp) return this.putContent(path, take());
        if (pendingBytes > 0) await mp.uploadPart(take());
        await mp.complete();
      },
      cancel: async () => {
        if (done) return;
        done = true;
        pending = [];
        await mp?.abort();
      },
    };
  }
}
