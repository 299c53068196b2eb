import { Inject } from '@nestjs/common';

export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

/** The shared ioredis client (present only when REDIS_URL is set). */
export const InjectRedis = (): ParameterDecorator => Inject(REDIS_CLIENT);
