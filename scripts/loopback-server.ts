// What the latency proxy (bench) and the fault proxy (tests) share: listen on 127.0.0.1 only, on a
// free port, and close at once with every open connection cut (keep-alive sockets would hold it).
import type { Agent, Server } from 'node:http';
import type { Socket } from 'node:net';

export async function listenOnLoopback(server: Server, agent: Agent): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}
