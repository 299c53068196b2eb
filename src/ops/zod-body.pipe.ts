import { Injectable, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { InvalidInputError } from '../errors/index.js';
import { describeZodIssue } from './zod-issues.js';

/**
 * Validates a request body against a zod schema: the parsed value, or a 400 that lists every
 * reason ("durationMs must be an integer from 0 to 3600000; property colour should not
 * exist"). For hot routes, where the class-validator pipe cost more than the route itself
 * (bench:profile-tasks); a missing body is an empty object, as the DTO pipe treats it.
 */
@Injectable()
export class ZodBodyPipe<Schema extends z.ZodType> implements PipeTransform<unknown, z.output<Schema>> {
  constructor(private readonly schema: Schema) {}

  transform(value: unknown): z.output<Schema> {
    const parsed = this.schema.safeParse(value ?? {});
    if (parsed.success) return parsed.data;
    const reasons = parsed.error.issues.flatMap(describeZodIssue);
    throw new InvalidInputError(reasons.join('; '), reasons);
  }
}
