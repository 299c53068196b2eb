import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardAdapter } from '@bull-board/fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { ERROR_MESSAGES } from '../errors/index.js';
import { ADMIN_CHALLENGE, type AdminAccess } from '../ops/admin-access.js';
import { errorBody } from '../ops/error-body.js';

export const QUEUE_BOARD_PATH = '/queues';

/**
 * Bull Board over the task queue at /queues. Read-only without ADMIN_TOKEN (anyone who can
 * reach it may look, nobody may retry or delete); with it, the token is required and the
 * board may act. Bull Board is a Fastify plugin, so it is mounted on Nest's Fastify instance
 * in a scope of its own, behind the same access check as the Nest routes.
 */
export async function mountQueueBoard(app: NestFastifyApplication, queue: Queue, access: AdminAccess): Promise<void> {
  const board = new BullBoardAdapter();
  board.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: !access.required })],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'ballast tasks' } },
  });
  await app.register(async (scope: FastifyInstance) => {
    scope.addHook('onRequest', async (request, reply) => {
      if (access.allowsHeader(request.headers.authorization)) return;
      await reply.code(401).header('www-authenticate', ADMIN_CHALLENGE).send(errorBody(401, ERROR_MESSAGES.admin.required));
    });
    await scope.register(board.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}
