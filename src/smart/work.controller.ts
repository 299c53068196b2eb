import { Controller, Get, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiInternalServerErrorResponse,
  ApiOkResponse,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import type { FastifyReply } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { ShutdownCoordinator } from '../lifecycle/index.js';
import { abortedWhenClientLeaves } from '../ops/close-signal.js';
import { errorBody } from '../ops/error-body.js';
import { ERROR_MESSAGES } from '../errors/index.js';
import { pickBehaviour, profileFromQuery } from './work-simulator.js';

/** A hang ends when the client leaves or shutdown starts, and never outlives this. */
const MAX_HANG_MS = 5 * 60_000;

/**
 * Upstream simulator for /api/smart (the assignment's test server as described
 * publicly): `{"time": delay}` after a random delay; some requests hang, answer 500,
 * or answer 200 with invalid JSON. Defaults from WORK_*; each can be overridden per
 * request (`?min=&max=&hang=&error=&invalid=&tail=&tailMs=`).
 */
@ApiTags('smart')
@Controller('api')
export class WorkController {
  private readonly shutdown = new AbortController();

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    coordinator: ShutdownCoordinator,
  ) {
    coordinator.onStopAccepting(() => this.shutdown.abort());
  }

  @Get('work')
  @ApiQuery({ name: 'min', required: false, description: 'Shortest delay, ms' })
  @ApiQuery({ name: 'max', required: false, description: 'Longest delay, ms' })
  @ApiQuery({ name: 'hang', required: false, description: 'Share of requests that never answer (0-1)' })
  @ApiQuery({ name: 'error', required: false, description: 'Share answered 500 (0-1)' })
  @ApiQuery({ name: 'invalid', required: false, description: 'Share answered 200 with invalid JSON (0-1)' })
  @ApiQuery({ name: 'tail', required: false, description: 'Share of successes that take tailMs (0-1)' })
  @ApiQuery({ name: 'tailMs', required: false, description: 'Heavy-tail delay, ms' })
  @ApiOkResponse({ description: '{"time": <delay ms>}, or (simulated) invalid JSON' })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'Unknown parameter or value out of range' })
  @ApiInternalServerErrorResponse({ type: ErrorBodyDto, description: 'Simulated upstream error' })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'A simulated hang ended by shutdown' })
  async work(@Query() query: Record<string, string>, @Res() reply: FastifyReply): Promise<void> {
    const behaviour = pickBehaviour(profileFromQuery(this.config.work, query));
    const clientGone = abortedWhenClientLeaves(reply.raw);
    if (behaviour.kind === 'hang') {
      await sleep(MAX_HANG_MS, undefined, { signal: AbortSignal.any([clientGone, this.shutdown.signal]) }).catch(() => undefined);
      if (!clientGone.aborted) await reply.code(503).send(errorBody(503, ERROR_MESSAGES.simulator.hangEndedByShutdown));
      return;
    }
    await sleep(behaviour.delayMs, undefined, { signal: clientGone }).catch(() => undefined);
    if (clientGone.aborted) return;
    switch (behaviour.kind) {
      case 'ok':
        await reply.send({ time: behaviour.delayMs });
        return;
      case 'error':
        await reply.code(500).send(errorBody(500, ERROR_MESSAGES.simulator.simulatedError));
        return;
      case 'invalid_json':
        await reply.type('application/json').send(`{"time": ${behaviour.delayMs},`);
        return;
      default: {
        const unreachable: never = behaviour;
        throw new Error(`unknown behaviour ${JSON.stringify(unreachable)}`);
      }
    }
  }
}
