/** What Redis says about keeping what it acknowledged, and what that means for accepted tasks. */
export interface DurabilityReport {
  readonly aof: boolean;
  /** `always`, `everysec` or `no` when AOF is on (INFO does not say; from CONFIG when allowed). */
  readonly appendfsync?: string;
  readonly maxmemoryPolicy: string;
  /** Empty when tasks accepted (202) survive a Redis restart and cannot be evicted. */
  readonly warnings: readonly string[];
}

/** Parses `INFO` text (`key:value` lines, `#` sections) into a map. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

/**
 * Judges INFO persistence + memory. BullMQ keeps jobs in Redis, so "a 202 is never lost"
 * holds only as far as Redis keeps what it acknowledged: without AOF a restart loses every
 * task since the last snapshot, and any eviction policy but `noeviction` may drop job keys.
 */
export function assessDurability(info: Record<string, string>, appendfsync?: string): DurabilityReport {
  const aof = info.aof_enabled === '1';
  const maxmemoryPolicy = info.maxmemory_policy ?? 'unknown';
  const warnings: string[] = [];
  if (!aof) warnings.push('AOF is off: tasks accepted since the last snapshot are lost if Redis restarts (set appendonly yes)');
  else if (appendfsync === 'no')
    warnings.push('appendfsync no: the OS decides when writes reach disk; a crash can lose tens of seconds of tasks');
  if (maxmemoryPolicy !== 'noeviction') {
    warnings.push(
      `maxmemory-policy is ${maxmemoryPolicy}: Redis may evict queued tasks under memory pressure (BullMQ requires noeviction)`,
    );
  }
  return { aof, ...(appendfsync ? { appendfsync } : {}), maxmemoryPolicy, warnings };
}
