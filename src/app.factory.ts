import type { Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { WsAdapter } from '@nestjs/platform-ws';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AppModule } from './app.module.js';
import type { Duplex } from 'node:stream';
import type { AppConfig } from './config/index.js';
import type { Queue } from 'bullmq';
import { AdminAccess } from './ops/admin-access.js';
import { ADMIN_SECURITY } from './ops/admin.guard.js';
import { API_VERSION } from './ops/api-version.js';
import { ErrorBodyDto } from './ops/error-body.dto.js';
import { errorBody } from './ops/error-body.js';
import { hardenHttp } from './ops/http-hardening.js';
import { refuseConnect, requestFramingProblem } from './ops/request-framing.js';
import { writeErrorToSocket } from './ops/raw-error.js';
import { clientErrorHandler } from './ops/client-error.js';
import { ERROR_MESSAGES } from './errors/messages.js';
import type { Socket } from 'node:net';
import { declarePlatformResponses } from './ops/openapi-responses.js';
import { AccessLog } from './ops/access-log.js';
import { RequestLogController } from './ops/request-log-controller.js';
import { createRootLogger, PinoNestLogger, REQUEST_ID_HEADER, requestIdFor } from './ops/logger.js';

export interface CreateAppOptions {
  /** Defaults to a JSON logger at the configured level. */
  logger?: PinoLogger;
  /** The embedding application's own modules, e.g. ones providing @TaskHandler task types (service role). */
  modules?: Type[];
}

/**
 * Builds the Nest application for a configuration, ready to `listen`. Shared by
 * `main.ts` and the e2e tests, so tests exercise exactly what production runs.
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestFastifyApplication> {
  const logger = options.logger ?? createRootLogger(config.logLevel);
  const dataPath = config.role === 'balancer' ? new LateBoundHandler(config.balancer.server) : undefined;
  const requestLog = new RequestLogController();
  const adapter = new FastifyAdapter({
    ...(dataPath && { serverFactory: dataPath.serverFactory }),
    clientErrorHandler: clientErrorHandler(
      config.role === 'balancer' ? ERROR_MESSAGES.framing.balancerHeadTimeout : ERROR_MESSAGES.framing.headTimeout,
    ),
    loggerInstance: logger,
    genReqId: requestIdFor,
    bodyLimit: config.http.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true },
    logController: requestLog,
    // Malformed URLs and the like, refused by Fastify's router before any route: the same JSON
    // error body as everything else, and through the reply, so the access log has their line.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      requestLog.answeredOutsideRoutes(request, reply);
      void reply
        .code(status)
        .header(REQUEST_ID_HEADER, request.id)
        .type('application/json; charset=utf-8')
        .send(errorBody(status, error.message));
    },
  });
  hardenHttp(adapter.getInstance(), { maxJsonDepth: config.http.bodyMaxDepth });

  const app = await NestFactory.create<NestFastifyApplication>(await AppModule.forRoot(config, options.modules), adapter, {
    logger: new PinoNestLogger(logger),
    bufferLogs: true,
    // Fastify's own JSON parser is all the API takes; other content types get 415.
    bodyParser: false,
  });
  requestLog.use(app.get(AccessLog));
  app.getHttpServer().on('connect', refuseConnect);
  if (dataPath) {
    const [{ BalancerProxy }, { WebSocketTunnels }] = await Promise.all([
      import('./balancer/balancer-proxy.js'),
      import('./balancer/websocket-tunnel.js'),
    ]);
    dataPath.bind(app.get(BalancerProxy).handle, app.get(WebSocketTunnels).handleUpgrade);
  } else app.useWebSocketAdapter(new WsAdapter(app));
  if (config.role === 'service' && config.redis) {
    // Loaded only where it is mounted: Bull Board's modules cost every other boot about 90 ms.
    const [{ mountQueueBoard }, { getQueueToken }, { TASK_QUEUE_NAME }] = await Promise.all([
      import('./views/queue-board.js'),
      import('@nestjs/bullmq'),
      import('./tasks/tasks.constants.js'),
    ]);
    await mountQueueBoard(app, app.get<Queue>(getQueueToken(TASK_QUEUE_NAME), { strict: false }), app.get(AdminAccess));
  }
  setUpDocs(app, config.role === 'balancer' ? '_balancer/docs' : 'docs');
  return app;
}

type RawHandler = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * The balancer's HTTP server: `/_balancer/*` goes to Fastify (and Nest), every other
 * path straight to the proxy, so Nest's router, pipes and filters stay off the data
 * path. The proxy exists only once Nest has built it, hence the late binding.
 */
class LateBoundHandler {
  private proxy?: RawHandler;
  private upgrade?: UpgradeHandler;
  private open = 0;

  constructor(private readonly limits: AppConfig['balancer']['server']) {}

  readonly serverFactory = (fastifyHandler: RawHandler): Server => {
    const keepAliveRequests = this.limits.keepAliveRequests;
    const server = createServer(
      {
        // A client that trickles its headers is answered 408 and closed, checked every second
        // (Node's default check runs every 30 s, so slow clients lingered 60-90 s).
        headersTimeout: this.limits.headersTimeoutMs,
        connectionsCheckingInterval: 1_000,
        keepAliveTimeout: this.limits.idleTimeoutMs,
      },
      (req, res) => {
        if (keepAliveRequests > 0) closeAfter(keepAliveRequests, req, res);
        // Framing is checked here for every path: the proxy never sees an ambiguous request.
        if (this.proxy && !req.url?.startsWith(BALANCER_PREFIX) && requestFramingProblem(req) === undefined) this.proxy(req, res);
        else fastifyHandler(req, res);
      },
    );
    // A cap on open client connections, answered: Node's own maxConnections drops the socket unanswered.
    server.on('connection', (socket: Socket) => {
      if (this.open >= this.limits.maxConnections) {
        socket.on('error', () => socket.destroy());
        writeErrorToSocket(socket, 503, ERROR_MESSAGES.balancer.tooManyConnections(this.limits.maxConnections), { retryAfterSeconds: 1 });
        socket.setTimeout(5_000, () => socket.destroy()); // it need not say goodbye
        return;
      }
      this.open += 1;
      socket.once('close', () => (this.open -= 1));
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.upgrade) this.upgrade(req, socket, head);
      else socket.destroy();
    });
    return server;
  };

  bind(proxy: RawHandler, upgrade: UpgradeHandler): void {
    this.proxy = proxy;
    this.upgrade = upgrade;
  }
}

const BALANCER_PREFIX = '/_balancer/';

const REQUESTS_ON_SOCKET = Symbol('ballast.requestsOnSocket');
type CountedSocket = Socket & { [REQUESTS_ON_SOCKET]?: number };

/**
 * The `limit`th request on a keep-alive connection gets the last answer on it: `Connection:
 * close`, and the connection is closed after it (nginx's keepalive_requests, 1000 there too). A
 * client's long-lived connections stay with the worker that accepted them, and only new ones
 * reach a worker started later (a restarted one) or another balancer added behind a TCP load
 * balancer. Node's own maxRequestsPerSocket only says close, keeps the connection open, and
 * answers a client that goes on sending a bare 503.
 */
function closeAfter(limit: number, req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as CountedSocket;
  const served = (socket[REQUESTS_ON_SOCKET] ?? 0) + 1;
  socket[REQUESTS_ON_SOCKET] = served;
  if (served >= limit) res.shouldKeepAlive = false;
}

function setUpDocs(app: NestFastifyApplication, path: string): void {
  const document = new DocumentBuilder()
    .setTitle('ballast')
    .setDescription('Keeps a fleet of Node instances steady under load, faults and deploys.')
    .setVersion(API_VERSION)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, when set' }, ADMIN_SECURITY.bearer)
    .addBasicAuth({ type: 'http', scheme: 'basic', description: 'Any user, ADMIN_TOKEN as the password' }, ADMIN_SECURITY.basic)
    .build();
  // ErrorBodyDto always: the platform responses refer to it, in both roles' documents.
  const create = () => declarePlatformResponses(SwaggerModule.createDocument(app, document, { extraModels: [ErrorBodyDto] }));
  SwaggerModule.setup(path, app, create, {
    jsonDocumentUrl: `${path}-json`,
  });
}
