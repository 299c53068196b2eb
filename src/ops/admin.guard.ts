import { applyDecorators, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiBasicAuth, ApiBearerAuth, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AdminTokenRequiredError } from '../errors/index.js';
import { AdminAccess } from './admin-access.js';
import { ErrorBodyDto } from './error-body.dto.js';

/** Lets a request through when ADMIN_TOKEN is unset or the request carries it. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(private readonly access: AdminAccess) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (this.access.allowsHeader(request.headers.authorization)) return true;
    throw new AdminTokenRequiredError();
  }
}

/** Security scheme names in the OpenAPI documents (declared in app.factory). */
export const ADMIN_SECURITY = { bearer: 'admin-bearer', basic: 'admin-basic' } as const;

/** A route that needs ADMIN_TOKEN when it is set, documented as such. */
export const AdminOnly = (): MethodDecorator & ClassDecorator =>
  applyDecorators(
    UseGuards(AdminGuard),
    ApiBearerAuth(ADMIN_SECURITY.bearer),
    ApiBasicAuth(ADMIN_SECURITY.basic),
    ApiUnauthorizedResponse({ type: ErrorBodyDto, description: 'ADMIN_TOKEN is set and the request does not carry it' }),
  );
