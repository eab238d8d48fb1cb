import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ingestQueue } from '../../src/ingest/queue.js';

/** A BullMQ key prefix of its own, so a test, demo or run never touches another's jobs. */
export const newQueuePrefix = (label: string) => `${label}${randomBytes(4).toString('hex')}`;

/** Removes every key under a queue prefix, on a direct connection (a fault proxy in front of Redis may be closed). */
export async function obliterateQueuePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  try {
    const queue = ingestQueue(redis, prefix);
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close().catch(() => {});
    // Obliterate leaves a few bookkeeping keys (schedulers, dedup markers); the prefix is ours alone.
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
