import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiParam,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorBodyDto } from '../ops/error-body.dto.js';
import { ItemBodyDto, ItemDto } from './item.dto.js';
import type { Item, ItemId } from './item.js';
import { ItemsService } from './items.service.js';
import { ParseItemIdPipe } from './parse-item-id.pipe.js';

const idParam = { name: 'id', description: 'Non-negative integer item id', example: 42 } as const;

@ApiTags('items')
@ApiBadRequestResponse({ type: ErrorBodyDto, description: 'Invalid id or body' })
@ApiServiceUnavailableResponse({ type: ErrorBodyDto, description: 'Redis unreachable (Retry-After)' })
@Controller('items')
export class ItemsController {
  constructor(private readonly items: ItemsService) {}

  @Get(':id')
  @ApiParam(idParam)
  @ApiOkResponse({ type: ItemDto })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  get(@Param('id', ParseItemIdPipe) id: ItemId): Promise<Item> {
    return this.items.get(id);
  }

  @Post()
  @HttpCode(200) // seed 001 answers a create with 200
  @ApiQuery({ name: 'item_id', description: 'Non-negative integer item id', example: 42 })
  @ApiOkResponse({ type: ItemDto, description: 'Created' })
  create(@Query('item_id', ParseItemIdPipe) id: ItemId, @Body() body: ItemBodyDto): Promise<Item> {
    return this.items.create(id, body);
  }

  @Put(':id')
  @ApiParam(idParam)
  @ApiOkResponse({ type: ItemDto, description: 'Replaced' })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  replace(@Param('id', ParseItemIdPipe) id: ItemId, @Body() body: ItemBodyDto): Promise<Item> {
    return this.items.replace(id, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiParam(idParam)
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiNotFoundResponse({ type: ErrorBodyDto })
  delete(@Param('id', ParseItemIdPipe) id: ItemId): Promise<void> {
    return this.items.delete(id);
  }
}
