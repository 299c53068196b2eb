import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { InjectConfig, type AppConfig } from '../config/index.js';
import { ERROR_MESSAGES } from '../errors/index.js';
import { errorBody } from './error-body.js';
import { isOperationalPath } from './operational-paths.js';

/**
 * Test and demo faults (seed 002's alterfailed and timeout apps), off unless
 * FAULT_MODE is set: `alternate` answers every other request 500, `slow` delays each
 * by FAULT_DELAY_MS. Probes and metrics are exempt, so health checks see the truth.
 */
@Injectable()
export class FaultInjector implements OnModuleInit {
  private readonly logger = new Logger('FaultInjection');
  private count = 0;

  constructor(
    @InjectConfig() private readonly config: AppConfig,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onModuleInit(): void {
    const fault = this.config.fault;
    if (!fault) return;
    this.logger.warn(
      `FAULT INJECTION ON: FAULT_MODE=${fault.mode}${fault.mode === 'slow' ? ` FAULT_DELAY_MS=${fault.delayMs}` : ''} — never in production`,
    );
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, reply, done) => {
      if (isOperationalPath(request.url)) {
        done();
        return;
      }
      if (fault.mode === 'alternate') {
        this.count += 1;
        if (this.count % 2 === 0) {
          void reply.code(500).send(errorBody(500, ERROR_MESSAGES.faults.injected));
          return;
        }
        done();
        return;
      }
      setTimeout(done, fault.delayMs);
    });
  }
}
