import { Type } from '@sinclair/typebox';
import createError from '@fastify/error';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { errorResponses } from '../plugins/error-handler.js';
import type { WebhookSubscription } from '../db/schema.js';
import { UnreadableCredentialsError } from '../tenants/credential-cipher.js';
import { acceptEvents } from './accept.js';
import { WebhookQueueUnavailableError } from './enqueue.js';
import { credentialsMatch, liveSubscription, recordSubscriptionEvent, subscriptionSecret } from './subscriptions.js';

/** One Pipedrive event is one person's metadata and fields: a few KB; more is not Pipedrive. */
export const PIPEDRIVE_WEBHOOK_BODY_LIMIT = 256 * 1024;

const UnauthorizedWebhookError = createError('UNAUTHORIZED', 'unknown webhook subscription or wrong credentials', 401);
const NotAnEventError = createError('INVALID_REQUEST', 'the body must be one Pipedrive webhook event (a JSON object)', 400);
const NoQueueError = createError('WEBHOOK_QUEUE_UNAVAILABLE', 'webhook events cannot be queued by this process; deliver them again later', 503);

/** `Authorization: Basic …` → user and password; undefined for anything else. */
function basicCredentials(request: FastifyRequest): { user: string; password: string } | undefined {
  const header = request.headers.authorization;
  const m = typeof header === 'string' ? /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(header.trim()) : null;
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const subscriptionOf = new WeakMap<FastifyRequest, WebhookSubscription>();

/**
 * POST /webhooks/pipedrive/:id: where Pipedrive delivers a tenant's person events (its
 * subscription, made by the workers, names the random id and the basic credentials). The body
 * is bounded, and the credentials are checked in constant time before anything reads it: without
 * them it is a 401 and nothing is written. An accepted event is queued for the workers (which read the persons it
 * names from Pipedrive) and answered at once.
 */
const pipedriveWebhookRoute: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/webhooks/pipedrive/:id',
    {
      bodyLimit: PIPEDRIVE_WEBHOOK_BODY_LIMIT,
      schema: {
        summary: "Pipedrive's webhook events (v2) of one tenant's subscription, with its basic credentials",
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        body: Type.Unknown(),
        response: { 200: Type.Object({ queued: Type.Integer() }), ...errorResponses },
      },
      // Once the body is read (bounded: an oversized one is a 413 whoever sends it), before
      // anything else looks at it.
      preValidation: async (request) => {
        const given = basicCredentials(request);
        const id = (request.params as { id?: unknown }).id;
        if (!given || typeof id !== 'string' || id.length > 64) {
          app.metrics.webhookRefused.inc({ crm: 'pipedrive', reason: 'unauthenticated' });
          throw new UnauthorizedWebhookError();
        }
        const subscription = await liveSubscription(app.db, 'pipedrive', id);
        let expected: { user: string; password: string } | undefined;
        try {
          expected = subscription && subscriptionSecret(app.tenants.keys, subscription);
        } catch (err) {
          if (!(err instanceof UnreadableCredentialsError)) throw err;
        }
        // Compared even without a subscription, so an unknown id takes as long as a wrong password.
        const ok = credentialsMatch(expected ?? { user: '', password: '\0' }, given) && expected !== undefined;
        if (!ok || !subscription) {
          app.metrics.webhookRefused.inc({ crm: 'pipedrive', reason: 'unauthenticated' });
          throw new UnauthorizedWebhookError();
        }
        subscriptionOf.set(request, subscription);
      },
    },
    async (request) => {
      const subscription = subscriptionOf.get(request)!;
      const event = request.body;
      if (event === null || typeof event !== 'object' || Array.isArray(event)) throw new NotAnEventError();
      if (!app.webhooks) throw new NoQueueError();
      try {
        const { queued } = await acceptEvents({ db: app.db, enqueue: app.webhooks, metrics: app.metrics }, 'pipedrive', new Map([[subscription.accountId, [event]]]));
        await recordSubscriptionEvent(app.db, subscription.id);
        return { queued };
      } catch (err) {
        if (err instanceof WebhookQueueUnavailableError) throw new NoQueueError();
        throw err;
      }
    },
  );
};

export default pipedriveWebhookRoute;
