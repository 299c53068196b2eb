// ballast's real balancer (createApp, as main.ts builds it) with its HTTP server's request
// listener wrapped, so a peer handler can answer in the same process: the parent switches
// the front with an IPC message ({ front: 'ballast' | 'peer' }) and measures each in turn.
// The peer is a bare undici Pool.stream proxy (PEER=proxy, the handler undici-proxy.mjs
// serves) or a bare writer of the balancer's 429 (PEER=refusal). `/_balancer/*`
// always reaches ballast, so the parent can wait for /_balancer/live.
import 'reflect-metadata';
import { bareProxyHandler } from './bare-proxy-handler.mjs';

const { createApp } = await import('../../dist/app.factory.js');
const { loadConfig } = await import('../../dist/config/index.js');
const { errorBody } = await import('../../dist/ops/error-body.js');
const { ERROR_MESSAGES } = await import('../../dist/errors/messages.js');
const app = await createApp(loadConfig());
await app.listen(Number(process.env.PORT), '127.0.0.1');

const proxyPeer = bareProxyHandler(process.env.BACKENDS.split(','));
// The bytes ballast's own 429 carries (its message and body shape, composed once), written the
// plainest way Node allows.
const refusalBody = JSON.stringify({ ...errorBody(429, ERROR_MESSAGES.balancer.clientRate(1)), reason: 'client_rate' });
const refusalPeer = (_req, res) => {
  res
    .writeHead(429, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(refusalBody)),
      'retry-after': '1',
      'x-request-id': 'a1b2c3d4-e5f6-a7b8-c9d0-000000000001',
      'proxy-status': 'ballast; error=http_request_denied; details="client_rate"',
    })
    .end(refusalBody);
};
const peer = process.env.PEER === 'refusal' ? refusalPeer : proxyPeer;

const server = app.getHttpServer();
const [ballast] = server.listeners('request');
server.removeAllListeners('request');
let front = 'ballast';
server.on('request', (req, res) => (front === 'peer' && !req.url.startsWith('/_balancer/') ? peer(req, res) : ballast(req, res)));
process.on('message', (message) => {
  front = message.front;
  process.send({ front });
});
process.send({ ready: true });
