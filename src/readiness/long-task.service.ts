import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';

/** Holds a client slot for a while (seed 000's /long_task), to exercise readiness. */
@Injectable()
export class LongTaskService {
  private nextClientId = 1;

  /** Resolves after `ms`, or early when `signal` aborts (the client went away). */
  async hold(ms: number, signal: AbortSignal): Promise<{ client: number }> {
    const client = this.nextClientId++;
    await sleep(ms, undefined, { signal }).catch((error: unknown) => {
      if (!signal.aborted) throw error;
    });
    return { client };
  }
}
