import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from '../ops/admin.guard.js';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import { ZodBodyPipe } from '../ops/zod-body.pipe.js';
import { createTaskBody, createTaskBodySchema, type CreateTaskBody } from './create-task.body.js';
import { idempotencyKeyOf } from './idempotency/idempotency-keys.js';
import { ListTasksQueryDto, TaskAcceptedDto, TaskViewDto } from './task.dto.js';
import type { TaskView } from './task.js';
import { TasksService } from './tasks.service.js';

const DEFAULT_LIST_LIMIT = 20;
/** Stripe's name for "this answer is the one an earlier request with the key got". */
const REPLAYED_HEADER = 'idempotent-replayed';

@ApiTags('tasks')
@Controller('tasks')
export class TasksController {
  constructor(private readonly tasks: TasksService) {}

  @Post()
  @HttpCode(202)
  @ApiBody({ schema: createTaskBodySchema as object, required: false })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      'Up to 255 characters. The same key with the same body within TASK_IDEMPOTENCY_TTL_MS answers with the task it first created (any instance), with Idempotent-Replayed: true; with another body, 422',
  })
  @ApiAcceptedResponse({
    type: TaskAcceptedDto,
    description: 'Durably queued (or scheduled)',
    headers: {
      Location: { description: 'The task: /tasks/{id}', schema: { type: 'string' } },
      'Idempotent-Replayed': { description: '`true` when an Idempotency-Key replayed an earlier create', schema: { type: 'string' } },
    },
  })
  @ApiBadRequestResponse({
    type: ErrorBodyDto,
    description: 'Invalid body, unknown type (knownTypes), input the type refuses (reasons), or a bad Idempotency-Key',
  })
  @ApiUnprocessableEntityResponse({ type: ErrorBodyDto, description: 'The Idempotency-Key was used with another body' })
  @ApiServiceUnavailableResponse({
    type: ErrorBodyDto,
    description:
      'Shutting down, Redis unreachable, or (REDIS_MIN_REPLICAS_ACK) fewer replicas than required confirmed the create in time: then the body names the queued task (taskId, replicasAcknowledged, replicasRequired); Retry-After',
  })
  async create(
    @Body(new ZodBodyPipe(createTaskBody)) body: CreateTaskBody,
    @Headers('idempotency-key') keyHeader: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskAcceptedDto> {
    const { view, replayed } = await this.tasks.create(body, idempotencyKeyOf(keyHeader));
    // Also how the balancer learns where a task lives when instances keep tasks in memory.
    void reply.header('location', `/tasks/${view.id}`);
    if (replayed) void reply.header(REPLAYED_HEADER, 'true');
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

  @Delete(':id')
  @ApiOkResponse({ type: TaskViewDto, description: 'Cancelled: it was waiting (queued, scheduled or retrying)' })
  @ApiAcceptedResponse({
    type: TaskViewDto,
    description: 'Cancel requested: it is running, its handler’s signal is aborted on whichever instance runs it, and it ends `cancelled`',
  })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiConflictResponse({ type: ErrorBodyDto, description: 'Already finished' })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Redis unreachable (Retry-After)' })
  async cancel(@Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<TaskView> {
    const { view, requested } = await this.tasks.cancel(id);
    void reply.code(requested ? 202 : 200);
    return view;
  }

  @Post(':id/retry')
  @HttpCode(202)
  @ApiAcceptedResponse({ type: TaskViewDto, description: 'Queued again, from its first attempt' })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  @ApiConflictResponse({ type: ErrorBodyDto, description: 'Not failed (only a failed task can be retried)' })
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Redis unreachable (Retry-After)' })
  retry(@Param('id') id: string): Promise<TaskView> {
    return this.tasks.retry(id);
  }
}
