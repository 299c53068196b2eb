import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { AdminOnly } from '../ops/admin.guard.js';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import { ZodBodyPipe } from '../ops/zod-body.pipe.js';
import { createTaskBody, createTaskBodySchema, type CreateTaskBody } from './create-task.body.js';
import { ListTasksQueryDto, TaskAcceptedDto, TaskViewDto } from './task.dto.js';
import type { TaskView } from './task.js';
import { TasksService } from './tasks.service.js';

const DEFAULT_LIST_LIMIT = 20;

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  @HttpCode(202)
  @ApiBody({ schema: createTaskBodySchema as object, required: false })
  @ApiAcceptedResponse({ type: TaskAcceptedDto, description: 'Durably queued' })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'Invalid body (unknown field, bad durationMs or clientId)' })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Shutting down, or Redis unreachable (Retry-After)' })
  async create(@Body(new ZodBodyPipe(createTaskBody)) body: CreateTaskBody): Promise<TaskAcceptedDto> {
    const view = await this.tasks.create(body);
    return { id: view.id, status: view.status };
  }

  @Get()
  @AdminOnly()
  @ApiOkResponse({ type: [TaskViewDto], description: 'Recent tasks, newest first' })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'Unknown status, limit out of 1-100, or an unknown parameter' })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Redis unreachable (Retry-After)' })
  list(@Query() query: ListTasksQueryDto): Promise<TaskView[]> {
    return this.tasks.list(query.status, query.limit ?? DEFAULT_LIST_LIMIT);
  }

  @Get(':id')
  @ApiOkResponse({ type: TaskViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Redis unreachable (Retry-After)' })
  get(@Param('id') id: string): Promise<TaskView> {
    return this.tasks.get(id);
  }
}
