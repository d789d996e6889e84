// A test server on 127.0.0.1 that counts its connections and, when closed, destroys the ones still open.
import type { Server } from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';

export interface LocalServer {
  /** `http://127.0.0.1:PORT` (or https). */
  readonly url: string;
  readonly host: string;
  /** Connections accepted so far. */
  readonly connections: () => number;
  close(): Promise<void>;
}

export async function listenLocal(server: Server | NetServer, scheme = 'http'): Promise<LocalServer> {
  let connections = 0;
  const sockets = new Set<Socket>();
  server.on(scheme === 'https' ? 'secureConnection' : 'connection', () => connections++);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    connections: () => connections,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}
