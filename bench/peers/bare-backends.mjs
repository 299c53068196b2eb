// N bare Node HTTP backends in one process (ports from argv), answering like /ping.
import { createServer } from 'node:http';

for (const port of process.argv.slice(2).map(Number)) {
  const body = JSON.stringify({ port });
  createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }).listen(port, '127.0.0.1');
}
process.send?.('ready');
