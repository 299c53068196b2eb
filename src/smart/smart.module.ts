import { Module } from '@nestjs/common';
import { SmartController } from './smart.controller.js';
import { SmartService } from './smart.service.js';
import { WorkController } from './work.controller.js';

@Module({
  controllers: [SmartController, WorkController],
  providers: [SmartService],
})
export class SmartModule {}
