import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { API_VERSION } from '../ops/api-version.js';
import { asyncApiDocument } from './asyncapi.js';

@ApiTags('tasks')
@Controller()
export class AsyncApiController {
  private readonly document = asyncApiDocument(API_VERSION);

  @Get('asyncapi.json')
  @ApiOkResponse({ description: 'The AsyncAPI 3 document of the /ws frames (beside /docs-json for HTTP)' })
  asyncApi(): object {
    return this.document;
  }
}
