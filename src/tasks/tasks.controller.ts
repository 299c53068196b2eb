import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import { CreateTaskDto, TaskAcceptedDto, TaskViewDto } from './task.dto.js';
import type { TaskView } from './task.js';
import { TasksService } from './tasks.service.js';

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  @HttpCode(202)
  @ApiAcceptedResponse({ type: TaskAcceptedDto, description: 'Durably queued' })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'Invalid body (unknown field, bad durationMs or clientId)' })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Shutting down, or Redis unreachable (Retry-After)' })
  async create(@Body() body: CreateTaskDto): Promise<TaskAcceptedDto> {
    const view = await this.tasks.create(body);
    return { id: view.id, status: view.status };
  }

  @Get(':id')
  @ApiOkResponse({ type: TaskViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Redis unreachable (Retry-After)' })
  get(@Param('id') id: string): Promise<TaskView> {
    return this.tasks.get(id);
  }
}
