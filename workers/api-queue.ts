import type { Queue } from 'bullmq';
import { ingestQueue, redisConnection, type IngestJob, type IngestResult } from './queues.js';
import { IngestScheduler } from './scheduler.js';

export interface ApiQueue {
  queue: Queue<IngestJob, IngestResult>;
  /** Starts and stops tenants' ingest; every call fails within the connection's bounds when Redis is away. */
  ingest: IngestScheduler;
  close(): Promise<void>;
}

/**
 * The API's side of the ingest queue. The API only adds jobs and reads their state, and Redis is
 * never on a sync's critical path: onboarding a tenant while Redis is down still answers (the
 * workers schedule the tenant when Redis is back), so every command here fails fast instead of
 * waiting for Redis. Workers keep their own connections, which wait for Redis forever.
 */
export function connectApiQueue(redisUrl: string, prefix: string, intervalMs: number): ApiQueue {
  const connection = redisConnection(redisUrl, 'producer');
  const queue = ingestQueue(connection, prefix, { failFast: true });
  return {
    queue,
    ingest: new IngestScheduler(queue, intervalMs),
    async close() {
      await queue.close().catch(() => {});
      connection.disconnect();
    },
  };
}
