// A second peer: the bare round-robin undici Pool.stream proxy plus the per-request work the
// contract asks of any ballast balancer (DESIGN.md), done by ballast's own functions so both
// fronts do exactly the same header work: hop-by-hop fields dropped both ways,
// X-Forwarded-For/Proto/Host and a request id upstream, the load report dropped and x-app-url
// added on the way back. No selection by load, admission queue, retry budget, attempt ledger,
// metrics or timeouts: what ballast spends beyond this peer is what those cost.
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../dist/balancer/forwarding-headers.js';
import { REQUEST_ID_HEADER, requestIdFor } from '../../dist/ops/logger.js';

const [port, ...backends] = process.argv.slice(2);
const pools = backends.map((url) => ({ url, pool: new Pool(url, { connections: 128 }) }));
let next = 0;
createServer((req, res) => {
  const { url, pool } = pools[next++ % pools.length];
  const headers = upstreamRequestHeaders(req.headers, { ip: req.socket.remoteAddress, proto: 'http', host: req.headers.host });
  headers[REQUEST_ID_HEADER] = requestIdFor(req);
  pool
    .stream({ path: req.url, method: req.method, headers, body: req.method === 'GET' ? null : req }, ({ statusCode, headers }) => {
      res.writeHead(statusCode, clientResponseHeaders(headers, url));
      return res;
    })
    .catch(() => res.destroy());
}).listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
process.on('SIGTERM', () => process.exit(0));
