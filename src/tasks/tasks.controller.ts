import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiNotFoundResponse, ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
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
  @ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Shutting down (Retry-After)' })
  async create(@Body() body: CreateTaskDto): Promise<TaskAcceptedDto> {
    const view = await this.tasks.create(body);
    return { id: view.id, status: view.status };
  }

  @Get(':id')
  @ApiOkResponse({ type: TaskViewDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  get(@Param('id') id: string): Promise<TaskView> {
    return this.tasks.get(id);
  }
}
