// The peer's whole data path: a bare round-robin undici Pool.stream proxy, no framework. Used
// as its own process (undici-proxy.mjs) and inside ballast's (in-process-fronts.mjs).
import { Pool } from 'undici';

/** A (req, res) handler proxying to `backends` (URLs) in turn. */
export function bareProxyHandler(backends) {
  const pools = backends.map((url) => new Pool(url, { connections: 128 }));
  let next = 0;
  return (req, res) => {
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
  };
}
