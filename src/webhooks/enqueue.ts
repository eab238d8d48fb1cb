import type { Queue } from 'bullmq';
import { redisConnection } from '../ingest/queue.js';
import { MAX_EVENTS_PER_JOB, webhookQueue, type WebhookJob, type WebhookResult } from './queue.js';

/** The webhook queue did not take the events (Redis away): the CRM is asked to deliver again. */
export class WebhookQueueUnavailableError extends Error {
  readonly code = 'WEBHOOK_QUEUE_UNAVAILABLE';
  readonly statusCode = 503;
  constructor(cause: unknown) {
    super('webhook events cannot be queued right now; deliver them again later', { cause });
  }
}

/** What a webhook route needs: hand one tenant's events to the workers. */
export interface WebhookEnqueue {
  enqueue(tenantId: string, events: readonly unknown[]): Promise<void>;
}

/** WebhookEnqueue on the webhook queue: jobs of at most MAX_EVENTS_PER_JOB events, in one round trip. */
export class QueueWebhookEnqueue implements WebhookEnqueue {
  constructor(readonly queue: Queue<WebhookJob, WebhookResult>) {}

  async enqueue(tenantId: string, events: readonly unknown[]): Promise<void> {
    const jobs: Array<{ name: string; data: WebhookJob }> = [];
    for (let i = 0; i < events.length; i += MAX_EVENTS_PER_JOB) {
      jobs.push({ name: 'webhook', data: { tenantId, events: events.slice(i, i + MAX_EVENTS_PER_JOB) } });
    }
    if (jobs.length === 0) return;
    try {
      await this.queue.addBulk(jobs);
    } catch (err) {
      throw new WebhookQueueUnavailableError(err);
    }
  }
}

export interface ApiWebhooks {
  enqueue: QueueWebhookEnqueue;
  close(): Promise<void>;
}

/**
 * The API's side of the webhook queue, failing fast as the API's ingest producer does: with Redis
 * away a delivery is refused at once (503), and the CRM delivers it again later.
 */
export function connectApiWebhooks(redisUrl: string, prefix: string): ApiWebhooks {
  const connection = redisConnection(redisUrl, 'producer');
  const queue = webhookQueue(connection, prefix, { failFast: true });
  return {
    enqueue: new QueueWebhookEnqueue(queue),
    async close() {
      await queue.close().catch(() => {});
      connection.disconnect();
    },
  };
}
