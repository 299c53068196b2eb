import { describe, expect, it } from '@jest/globals';
import { assessDurability, parseInfo } from './durability.js';

const info = (aof: '0' | '1', policy: string) =>
  parseInfo(
    `# Persistence\r\nloading:0\r\naof_enabled:${aof}\r\nrdb_changes_since_last_save:12\r\n\r\n# Memory\r\nmaxmemory_policy:${policy}\r\n`,
  );

describe('assessDurability', () => {
  it('parses INFO sections into fields', () => {
    expect(info('1', 'noeviction')).toEqual({
      loading: '0',
      aof_enabled: '1',
      rdb_changes_since_last_save: '12',
      maxmemory_policy: 'noeviction',
    });
  });

  it('has nothing to say with AOF on and noeviction', () => {
    expect(assessDurability(info('1', 'noeviction'), 'everysec')).toEqual({
      aof: true,
      appendfsync: 'everysec',
      maxmemoryPolicy: 'noeviction',
      warnings: [],
    });
  });

  it.each([
    [info('0', 'noeviction'), undefined, [/AOF is off/]],
    [info('1', 'allkeys-lru'), 'always', [/maxmemory-policy is allkeys-lru/]],
    [info('0', 'volatile-ttl'), undefined, [/AOF is off/, /may evict/]],
    [info('1', 'noeviction'), 'no', [/appendfsync no/]],
    [parseInfo(''), undefined, [/AOF is off/, /maxmemory-policy is unknown/]],
  ])('warns when accepted tasks could be lost: %j', (fields, fsync, patterns) => {
    const { warnings } = assessDurability(fields, fsync);
    expect(warnings).toHaveLength(patterns.length);
    patterns.forEach((pattern, i) => expect(warnings[i]).toMatch(pattern));
  });
});
