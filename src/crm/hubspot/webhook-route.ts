import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { errorResponses } from '../../plugins/error-handler.js';
import type { Metrics } from '../../metrics/registry.js';
import { acceptEvents } from '../../webhooks/accept.js';
import { checkV3Signature } from './webhook-signature.js';
import { hubspotDelivery, queuedEvent, type HubSpotEvent } from './webhook-events.js';

/**
 * 100 events of a few hundred bytes each, with room for long property values: HubSpot never
 * sends more (https://developers.hubspot.com/docs/api/webhooks); anything larger is refused
 * before it is read, let alone hashed.
 */
const BODY_LIMIT = 256 * 1024;

class WebhookRefusedError extends Error {
  readonly statusCode = 401;
  readonly code = 'INVALID_SIGNATURE';
}

class InvalidDeliveryError extends Error {
  readonly statusCode = 400;
  readonly code = 'INVALID_DELIVERY';
}

const REFUSALS = {
  missing: 'X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required',
  stale: 'X-HubSpot-Request-Timestamp is more than 5 minutes away',
  invalid: 'X-HubSpot-Signature-v3 does not match',
} as const;

export interface HubSpotWebhookOptions {
  metrics?: Metrics;
  now?: () => number;
}

/**
 * POST /webhooks/hubspot: the app's contact events. Present only with HUBSPOT_CLIENT_SECRET (the
 * secret that signs them); without it the path answers 404. A delivery whose v3 signature fails
 * is a 401 and nothing of it is read; a signed one is answered at once and queued per portal
 * (src/webhooks/), events of portals that are no tenant here counted and dropped.
 */
const hubspotWebhookRoute: FastifyPluginAsyncTypebox<HubSpotWebhookOptions> = async (app, { metrics, now = Date.now }) => {
  const secret = app.config.HUBSPOT_CLIENT_SECRET;
  if (secret === undefined) return;
  // The signature is over the raw bytes: this route's JSON stays a Buffer until it is verified.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));
  // The URI HubSpot called: its scheme and host are PUBLIC_URL's (a proxy in front may change them).
  const origin = app.config.PUBLIC_URL === undefined ? undefined : new URL(app.config.PUBLIC_URL).origin;

  app.post(
    '/webhooks/hubspot',
    {
      bodyLimit: BODY_LIMIT,
      schema: {
        summary: "HubSpot app webhooks (v3-signed contact events); 404 without HUBSPOT_CLIENT_SECRET",
        response: { 200: Type.Object({ queued: Type.Integer(), unknown: Type.Integer() }), ...errorResponses },
      },
    },
    async (request) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const check = checkV3Signature({
        secret,
        method: request.method,
        uri: `${origin ?? `${request.protocol}://${request.host}`}${request.url}`,
        body,
        signature: request.headers['x-hubspot-signature-v3'] as string | undefined,
        timestamp: request.headers['x-hubspot-request-timestamp'] as string | undefined,
        now: now(),
      });
      if (check !== 'valid') {
        metrics?.webhookRefused.inc({ crm: 'hubspot', reason: check });
        throw new WebhookRefusedError(REFUSALS[check]);
      }
      let events: unknown;
      try {
        events = JSON.parse(body.toString('utf8'));
      } catch {
        throw new InvalidDeliveryError('the body is not JSON');
      }
      if (!hubspotDelivery.Check(events)) {
        const first = hubspotDelivery.Errors(events).First();
        throw new InvalidDeliveryError(`the body is not an array of at most 100 HubSpot events${first ? ` (${first.path || '/'}: ${first.message})` : ''}`);
      }
      if (!app.webhooks) throw Object.assign(new Error('webhooks are not queued by this process'), { statusCode: 503, code: 'WEBHOOK_QUEUE_UNAVAILABLE' });
      const byPortal = new Map<string, HubSpotEvent[]>();
      for (const e of events) {
        const key = String(e.portalId);
        const list = byPortal.get(key) ?? [];
        list.push(queuedEvent(e));
        byPortal.set(key, list);
      }
      return acceptEvents({ db: app.db, enqueue: app.webhooks, metrics }, 'hubspot', byPortal);
    },
  );
};

export default hubspotWebhookRoute;
