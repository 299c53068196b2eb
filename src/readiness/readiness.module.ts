import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ClientTracker } from './client-tracker.js';
import { LongTaskService } from './long-task.service.js';
import { ReadinessController } from './readiness.controller.js';
import { ReadinessIndicators } from './readiness.indicators.js';

@Module({
  // Not-ready is an expected state (cooldown), not an error worth a log line per probe.
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [ReadinessController],
  providers: [ClientTracker, ReadinessIndicators, LongTaskService],
  exports: [ClientTracker],
})
export class ReadinessModule {}
