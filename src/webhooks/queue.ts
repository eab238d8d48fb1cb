import { Queue, type ConnectionOptions, type DefaultJobOptions } from 'bullmq';
import type { WriteCounts } from '../mirror/writer.js';

/**
 * CRM events waiting to be turned into mirror changes. A queue of its own, not the ingest queue:
 * an ingest job is deduplicated per tenant (one pass at a time), where every webhook delivery is
 * work of its own, and a long backfill must not hold events back.
 */
export const WEBHOOK_QUEUE = 'webhooks';

/**
 * The most events one job carries: HubSpot sends at most 100 a request, and one job is one batch
 * read of the CRM. A route given more splits them (see enqueue.ts).
 */
export const MAX_EVENTS_PER_JOB = 100;

/** One tenant's events as its CRM sent them; the connector reads them (Connector.webhookChanges). Ids only, no secrets. */
export interface WebhookJob {
  tenantId: string;
  events: unknown[];
}

/** What a webhook job did: the writer's counts for its events. */
export interface WebhookResult extends WriteCounts {
  events: number;
  skipped?: string;
}

export const webhookJobOptions: DefaultJobOptions = {
  // A CRM that fails now is read again shortly; past the attempts, polling catches the change.
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000, jitter: 0.5 },
  removeOnComplete: { age: 3600, count: 1000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
};

/** The webhook queue, as ingest/queue.ts builds the ingest one (`failFast` for the API's producer). */
export function webhookQueue(connection: ConnectionOptions, prefix: string, { failFast = false }: { failFast?: boolean } = {}): Queue<WebhookJob, WebhookResult> {
  const queue = new Queue<WebhookJob, WebhookResult>(WEBHOOK_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: webhookJobOptions,
    ...(failFast ? { skipWaitingForReady: true, skipVersionCheck: true } : {}),
  });
  // As the ingest queue: Redis errors are reported by the callers, never as unhandled rejections.
  queue.on('error', () => {});
  return queue;
}
