import type { FastifyInstance } from 'fastify';
import type { SimControl } from './control.js';
import { validationError } from './errors.js';
import type { Subscription, WebhookFaults, WebhookSettings, WebhookTargetOptions } from './webhooks.js';

/**
 * The control API of apps, OAuth and webhooks (control.oauth, control.webhooks), for clients in
 * another process. Like the other /__sim routes: no token, no limits, errors are HubSpot-shaped 400s.
 *
 *   POST   /__sim/oauth/apps            {appId, clientId, clientSecret}        an app that can be installed
 *   PUT    /__sim/oauth/config          {accessTokenTtlSeconds}                 tokens issued from now on
 *   POST   /__sim/oauth/uninstall       {appId, portalId}                       every token of the install stops working
 *   GET    /__sim/oauth/stats           authorizations, code exchanges, refreshes (per install), refusals
 *   POST   /__sim/oauth/stats/reset
 *   POST   /__sim/webhooks/targets      {appId, targetUrl, subscriptions:[{subscriptionType, propertyName?}],
 *                                        portalIds?, maxBatchSize?, batchWindowMs?} → {targetId, subscriptionIds}
 *   GET    /__sim/webhooks/targets
 *   DELETE /__sim/webhooks/targets/:id
 *   GET|PUT /__sim/webhooks/faults      {dropRate, duplicateRate, dropNext, duplicateNext, delayMs, reorder}
 *   PUT    /__sim/webhooks/config       {maxAttempts, retryDelayMs, timeoutMs}
 *   GET    /__sim/webhooks/stats        requests, delivered, eventsDelivered, failedAttempts, abandoned, dropped, duplicated
 *   POST   /__sim/webhooks/stats/reset
 *   POST   /__sim/webhooks/settle       long-polls until nothing is queued, waiting or being sent
 */
export function registerAppControlRoutes(app: FastifyInstance, control: SimControl): void {
  const { oauth, webhooks } = control;
  const guard = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof RangeError) throw validationError(err.message);
      throw err;
    }
  };

  app.post('/__sim/oauth/apps', async (request) => {
    const b = body(request.body);
    guard(() => oauth.addApp({ appId: int(b, 'appId'), clientId: str(b, 'clientId'), clientSecret: str(b, 'clientSecret') }));
    return { ok: true };
  });
  app.put('/__sim/oauth/config', async (request) => {
    const b = body(request.body);
    guard(() => oauth.setAccessTokenTtl(int(b, 'accessTokenTtlSeconds')));
    return { accessTokenTtlSeconds: oauth.accessTokenTtlSeconds };
  });
  app.post('/__sim/oauth/uninstall', async (request) => {
    const b = body(request.body);
    return { uninstalled: oauth.uninstall(int(b, 'appId'), int(b, 'portalId')) };
  });
  app.get('/__sim/oauth/stats', async () => oauth.stats());
  app.post('/__sim/oauth/stats/reset', async () => {
    oauth.resetStats();
    return { ok: true };
  });

  app.post('/__sim/webhooks/targets', async (request) => {
    const b = body(request.body);
    if (!Array.isArray(b.subscriptions)) throw validationError('subscriptions must be an array of {subscriptionType, propertyName?}');
    const options: WebhookTargetOptions = { appId: int(b, 'appId'), targetUrl: str(b, 'targetUrl'), subscriptions: b.subscriptions as Subscription[] };
    if (Array.isArray(b.portalIds)) options.portalIds = b.portalIds as number[];
    if (b.maxBatchSize !== undefined) options.maxBatchSize = int(b, 'maxBatchSize');
    if (b.batchWindowMs !== undefined) options.batchWindowMs = int(b, 'batchWindowMs');
    return guard(() => webhooks.addTarget(options));
  });
  app.get('/__sim/webhooks/targets', async () => webhooks.listTargets());
  app.delete('/__sim/webhooks/targets/:id', async (request) => ({ removed: webhooks.removeTarget(Number((request.params as { id: string }).id)) }));
  app.get('/__sim/webhooks/faults', async () => webhooks.currentFaults());
  app.put('/__sim/webhooks/faults', async (request) => {
    guard(() => webhooks.setFaults(body(request.body) as WebhookFaults));
    return webhooks.currentFaults();
  });
  app.put('/__sim/webhooks/config', async (request) => {
    const b = body(request.body);
    for (const k of ['maxAttempts', 'retryDelayMs', 'timeoutMs'] as const) {
      if (b[k] !== undefined) webhooks.settings[k] = int(b, k) as WebhookSettings[typeof k];
    }
    return { ...webhooks.settings };
  });
  app.get('/__sim/webhooks/stats', async () => webhooks.stats());
  app.post('/__sim/webhooks/stats/reset', async () => {
    webhooks.resetStats();
    return { ok: true };
  });
  app.post('/__sim/webhooks/settle', async () => {
    await webhooks.settled();
    return webhooks.stats();
  });
}

type Body = Record<string, unknown>;

function body(raw: unknown): Body {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw validationError('the body must be a JSON object');
  return raw as Body;
}

function int(b: Body, name: string): number {
  const v = b[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw validationError(`${name} must be a whole number`);
  return v;
}

function str(b: Body, name: string): string {
  const v = b[name];
  if (typeof v !== 'string' || v === '') throw validationError(`${name} must be a non-empty string`);
  return v;
}
