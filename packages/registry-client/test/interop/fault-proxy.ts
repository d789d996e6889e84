// A forwarding HTTP proxy in front of a real registry that injects the faults a healthy registry never produces:
// connections dropped mid-body, corrupted bytes, 429/500 answers. Everything else reaches the real registry unchanged.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultAction =
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly headers?: Record<string, string>;
      readonly body?: string;
    }
  /** Forward, but cut the response body after this many bytes (the socket is destroyed). */
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  /** Forward, flipping the bits of one body byte (same length). */
  | { readonly kind: 'corrupt' }
  /** Read this many bytes of the request body, then drop the connection without forwarding anything. */
  | { readonly kind: 'drop-request'; readonly afterBytes: number }
  /** Forward, rewriting an absolute `Location` of the answer into a path (as some registries send it). */
  | { readonly kind: 'relative-location' }
  /** Forward, let the registry do the work, then drop the connection instead of relaying its answer. */
  | { readonly kind: 'drop-response' }
  /** Never answer (the socket stays open until the proxy stops). */
  | { readonly kind: 'hang' }
  /** Forward the request with this query parameter removed. */
  | { readonly kind: 'strip-query'; readonly param: string };

export interface FaultRule {
  readonly method?: string;
  readonly path: RegExp;
  /** Only requests carrying this header (e.g. `range`) match. */
  readonly withHeader?: string;
  /** How many matching requests get the fault (default 1). */
  times?: number;
  /** Matching requests let through untouched before the fault applies (default 0). */
  skip?: number;
  readonly action: FaultAction;
}

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

export interface FaultProxy {
  readonly host: string;
  readonly url: string;
  readonly rules: FaultRule[];
  readonly seen: SeenRequest[];
  stop(): Promise<void>;
}

export async function startFaultProxy(upstreamHost: string): Promise<FaultProxy> {
  const [uHost, uPort] = upstreamHost.split(':') as [string, string];
  const rules: FaultRule[] = [];
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();

  const forward = (req: IncomingMessage, res: ServerResponse, action: FaultAction | undefined, path: string) => {
    const up = httpRequest(
      { host: uHost, port: Number(uPort), method: req.method, path, headers: req.headers },
      (ures) => {
        if (action?.kind === 'drop-response') {
          ures.resume();
          ures.on('end', () => res.socket?.destroy());
          return;
        }
        const headers = { ...ures.headers };
        if (
          action?.kind === 'relative-location' &&
          typeof headers.location === 'string' &&
          /^https?:/.test(headers.location)
        ) {
          const u = new URL(headers.location);
          headers.location = `${u.pathname}${u.search}`;
        }
        res.writeHead(ures.statusCode ?? 502, headers);
        let sent = 0;
        let corrupted = false;
        ures.on('data', (chunk: Buffer) => {
          if (action?.kind === 'truncate') {
            const left = action.afterBytes - sent;
            if (left <= 0) {
              res.socket?.destroy();
              ures.destroy();
              return;
            }
            if (chunk.length >= left) {
              res.write(chunk.subarray(0, left), () => {
                res.socket?.destroy();
              });
              sent += left;
              ures.destroy();
              return;
            }
          }
          if (action?.kind === 'corrupt' && !corrupted && chunk.length > 0) {
            chunk = Buffer.from(chunk);
            chunk[0] = chunk[0]! ^ 0xff;
            corrupted = true;
          }
          sent += chunk.length;
          res.write(chunk);
        });
        ures.on('end', () => res.end());
        ures.on('error', () => res.destroy());
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const path = req.url ?? '/';
    let rule = rules.find(
      (r) =>
        (r.times ?? 1) > 0 &&
        (!r.method || r.method === req.method) &&
        r.path.test(path) &&
        (!r.withHeader || req.headers[r.withHeader] !== undefined),
    );
    if (rule && (rule.skip ?? 0) > 0) {
      rule.skip = (rule.skip ?? 0) - 1;
      rule = undefined;
    }
    if (rule) rule.times = (rule.times ?? 1) - 1;
    const action = rule?.action;
    if (action?.kind === 'status') {
      req.resume();
      res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
      res.end(action.body ?? '');
      return;
    }
    if (action?.kind === 'hang') {
      req.resume();
      return;
    }
    if (action?.kind === 'drop-request') {
      let got = 0;
      req.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= action.afterBytes) req.socket.destroy();
      });
      req.on('end', () => req.socket.destroy());
      return;
    }
    if (action?.kind === 'strip-query') {
      const u = new URL(path, 'http://x');
      u.searchParams.delete(action.param);
      forward(req, res, undefined, `${u.pathname}${u.search}`);
      return;
    }
    forward(req, res, action, path);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    rules,
    seen,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
