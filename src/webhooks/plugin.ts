import type { WebhookEnqueue } from './enqueue.js';
import { provide } from '../plugins/provide.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Hands authenticated webhook events to the workers; null in a process built without the queues. */
    webhooks: WebhookEnqueue | null;
  }
}

export default provide('webhooks');
