import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ViewAssetNotFoundError } from '../errors/index.js';
import { AdminOnly } from '../ops/admin.guard.js';
import { VIEW_SECURITY_HEADERS, type ViewAsset } from './view-assets.js';

/**
 * A status page at `path` (its HTML is `page`) and its static files under `path/assets/`.
 * Pages, not API: they are left out of the OpenAPI document and use the public API only.
 */
export function statusPagesAt(path: string, page: string, assets: ReadonlyMap<string, ViewAsset>) {
  const send = async (reply: FastifyReply, asset: ViewAsset) => {
    await reply.headers(VIEW_SECURITY_HEADERS).type(asset.contentType).send(asset.body);
  };

  @ApiExcludeController()
  @AdminOnly()
  @Controller(path)
  class StatusPagesController {
    @Get()
    async page(@Res() reply: FastifyReply): Promise<void> {
      await send(reply, assets.get(page)!);
    }

    @Get('assets/:name')
    async asset(@Param('name') name: string, @Res() reply: FastifyReply): Promise<void> {
      const asset = assets.get(name);
      if (!asset) throw new ViewAssetNotFoundError(name);
      await send(reply, asset);
    }
  }
  return StatusPagesController;
}
