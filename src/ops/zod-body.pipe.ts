import { Injectable, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { InvalidInputError } from '../errors/index.js';

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
    const reasons = parsed.error.issues.flatMap(describeIssue);
    throw new InvalidInputError(reasons.join('; '), reasons);
  }
}

/** One reason per problem, worded like the DTO pipe's (field first). */
function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `property ${key} should not exist`);
  if (issue.path.length === 0) return [issue.message];
  return [`${issue.path.join('.')} ${issue.message}`];
}
