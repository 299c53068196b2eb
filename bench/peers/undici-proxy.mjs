// The peer: a bare round-robin undici Pool.stream proxy, no framework (a dozen lines).
import { createServer } from 'node:http';
import { bareProxyHandler } from './bare-proxy-handler.mjs';

const [port, ...backends] = process.argv.slice(2);
createServer(bareProxyHandler(backends)).listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
// A normal exit on SIGTERM, so `node --cpu-prof` (bench:profile) writes its profile.
process.on('SIGTERM', () => process.exit(0));
