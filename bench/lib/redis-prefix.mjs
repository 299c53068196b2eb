// The task benches run on a shared Redis (REDIS_URL or 127.0.0.1:6379), each app under its own
// key prefix: what a round leaves there (finished jobs, event streams) is removed when its
// process stops, so runs do not grow that Redis (it had reached 850,000 keys and 1.4 GB) and a
// later round does not run against a fuller one than an earlier.
import { Redis } from 'ioredis';

/** Unlinks every key under `prefix:` (SCAN, so Redis keeps answering meanwhile). */
export async function dropPrefix(redisUrl, prefix) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
