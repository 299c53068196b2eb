import { ServiceUnavailableException } from '@nestjs/common';
import type { HealthCheckResult, HealthCheckService, HealthIndicatorFunction } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';

/**
 * Runs a terminus check and answers its result either way: terminus reports "not
 * healthy" as an exception carrying the full body, which is an answer here, not an error.
 */
export async function healthResponse(
  health: HealthCheckService,
  checks: HealthIndicatorFunction[],
  reply: FastifyReply,
): Promise<HealthCheckResult> {
  try {
    return await health.check(checks);
  } catch (error) {
    if (!(error instanceof ServiceUnavailableException)) throw error;
    void reply.status(503);
    return error.getResponse() as HealthCheckResult;
  }
}
