import type { z } from 'zod';

/** One reason per problem, worded like the DTO pipe's (field first). */
export function describeZodIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `property ${key} should not exist`);
  if (issue.path.length === 0) return [issue.message];
  return [`${issue.path.join('.')} ${issue.message}`];
}
