// The peer: a bare round-robin undici Pool.stream proxy, no framework (a dozen lines).
import { createServer } from 'node:http';
import { Pool } from 'undici';

const [port, ...backends] = process.argv.slice(2);
const pools = backends.map((url) => new Pool(url, { connections: 128 }));
let next = 0;
createServer((req, res) => {
  const pool = pools[next++ % pools.length];
  pool
    .stream(
      { path: req.url, method: req.method, headers: req.headers, body: req.method === 'GET' ? null : req },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, headers);
        return res;
      },
    )
    .catch(() => res.destroy());
}).listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
// A normal exit on SIGTERM, so `node --cpu-prof` (bench:profile) writes its profile.
process.on('SIGTERM', () => process.exit(0));
