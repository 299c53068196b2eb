import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';

/** A TCP proxy in front of one Redis that can stop answering some of its connections. */
export interface FreezingProxy {
  readonly port: number;
  /**
   * From now on, nothing Redis sends reaches the connections named `name` open now (what
   * a half-open socket after a network fault looks like: writes go out, no reply ever comes
   * back). Connections opened later pass. Returns how many it froze.
   */
  freezeNamed(name: string): number;
  close(): Promise<void>;
}

interface Link {
  readonly client: Socket;
  readonly server: Socket;
  name: string;
  frozen: boolean;
}

export async function startFreezingProxy(target: { host: string; port: number }): Promise<FreezingProxy> {
  const links = new Set<Link>();
  const proxy = createServer((client) => {
    const server = connect(target.port, target.host);
    const link: Link = { client, server, name: '', frozen: false };
    links.add(link);
    client.on('data', (chunk: Buffer) => {
      // ioredis names a connection first thing (CLIENT SETNAME <name>, in RESP); BullMQ may rename it.
      const setName = /setname\r\n\$\d+\r\n([^\r]+)/i.exec(chunk.toString('latin1'));
      if (setName) link.name = setName[1];
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (!link.frozen) client.write(chunk);
    });
    const end = () => {
      links.delete(link);
      client.destroy();
      server.destroy();
    };
    client.on('close', end).on('error', end);
    server.on('close', end).on('error', end);
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const address = proxy.address();
  if (!address || typeof address === 'string') throw new Error('the proxy has no port');
  const matching = (name: string) => [...links].filter((link) => link.name === name);
  return {
    port: address.port,
    freezeNamed(name) {
      const found = matching(name);
      for (const link of found) link.frozen = true;
      return found.length;
    },
    async close() {
      for (const link of links) {
        link.client.destroy();
        link.server.destroy();
      }
      proxy.close();
      await once(proxy, 'close');
    },
  };
}
