import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { registerControlRoutes } from './control-routes.js';
import { SimControl } from './control.js';
import { endpointOf, registerCrmRoutes } from './crm-routes.js';
import { SimHttpError } from './errors.js';
import { FaultBook } from './faults.js';
import { CORRELATION_HEADER, installGateway } from './gateway.js';
import { registerAppControlRoutes } from './app-control-routes.js';
import { OAuthBook, type OAuthAppOptions } from './oauth.js';
import { registerOAuthRoutes } from './oauth-routes.js';
import { Portal, PortalRegistry, type PortalOptions } from './portals.js';
import { DEFAULT_RATE_LIMITS, type RateLimits } from './rate-limit.js';
import { StatsRecorder } from './stats.js';
import { WebhookDispatcher, type WebhookSettings } from './webhooks.js';

export interface HubSpotSimOptions {
  /** Default: one portal, 62515, token "demo-token", no contacts. */
  portals?: PortalOptions[];
  /** How long a write takes to reach search. 0 (default) suits tests; ~2000 is HubSpot-like. */
  searchLagMs?: number;
  /** Defaults for every portal: 100 per rolling 10 s, 5 searches per second. */
  rateLimits?: Partial<RateLimits>;
  /** The sim's time, for lastmodifieddate, the limits and the search lag. Default Date.now. */
  clock?: () => number;
  /** Seeds generated data and id gaps; the same seed gives the same portal. Default 1. */
  seed?: number;
  logger?: FastifyServerOptions['logger'];
  /** OAuth apps (client id and secret) that can be installed in the portals and receive webhooks. */
  apps?: OAuthAppOptions[];
  /** Lifetime of OAuth access tokens (HubSpot's: 1800 s); a short one makes refreshes happen in tests. */
  accessTokenTtlSeconds?: number;
  /** Webhook retries: 10 attempts 1 s apart, 5 s to answer, by default. */
  webhooks?: Partial<WebhookSettings>;
}

export interface HubSpotSim {
  app: FastifyInstance;
  control: SimControl;
}

export const DEFAULT_PORTAL: PortalOptions = { portalId: 62515, tokens: ['demo-token'] };

/**
 * A HubSpot CRM v3 stand-in for one or more portals. Not listening yet: call
 * `app.listen({ port: 0, host: '127.0.0.1' })` and point the official client's basePath at it.
 */
export async function buildHubSpotSim(options: HubSpotSimOptions = {}): Promise<HubSpotSim> {
  const clock = options.clock ?? Date.now;
  const settings = { searchLagMs: options.searchLagMs ?? 0 };
  const seed = options.seed ?? 1;
  const registry = new PortalRegistry();
  for (const p of options.portals ?? [DEFAULT_PORTAL]) {
    const limits = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits, ...p.rateLimits };
    const portal = new Portal(p.portalId, p.seed ?? seed + p.portalId, limits, clock, () => settings.searchLagMs, p.firstId);
    registry.add(portal, p.tokens, p.scopedTokens);
    if (p.contacts) portal.store.seed(portal.generator.historical(p.contacts, clock()));
  }
  const faults = new FaultBook();
  const stats = new StatsRecorder(clock);
  const oauth = new OAuthBook(registry, { accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 1800 }, clock);
  for (const a of options.apps ?? []) oauth.addApp(a);
  const webhooks = new WebhookDispatcher(
    { secretOf: (appId) => oauth.appById(appId)?.clientSecret, installedPortals: (appId) => oauth.installedPortals(appId), clock, seed },
    { maxAttempts: 10, retryDelayMs: 1000, timeoutMs: 5000, ...options.webhooks },
  );
  for (const portal of registry.all()) portal.store.listen((event) => webhooks.onEvent(portal.id, event));
  const control = new SimControl(registry, faults, stats, settings, clock, oauth, webhooks);

  // OAuth tokens travel as path parameters (/oauth/v1/access-tokens/:token) and run to hundreds of characters.
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 64 * 1024 * 1024, routerOptions: { maxParamLength: 1024 } });
  app.setErrorHandler((error: FastifyError | SimHttpError | RangeError, request, reply) => {
    const correlationId = String(reply.getHeader(CORRELATION_HEADER) ?? randomUUID());
    if (error instanceof SimHttpError) return reply.code(error.statusCode).send(error.body(correlationId));
    const status = error instanceof RangeError ? 400 : 'statusCode' in error && error.statusCode ? error.statusCode : 500;
    if (status >= 500) request.log.error(error);
    return reply.code(status).send({
      status: 'error',
      message: status === 400 && 'code' in error && error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? `Invalid input JSON: ${error.message}` : error.message,
      correlationId,
      category: status >= 500 ? 'INTERNAL_ERROR' : 'VALIDATION_ERROR',
    });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ status: 'error', message: `${request.method} ${request.url} is not a route the simulator serves`, correlationId: randomUUID() }),
  );

  const portalOf = installGateway(app, { registry, faults, stats, clock, endpointOf, oauthToken: (token) => oauth.resolve(token) });
  registerCrmRoutes(app, { portalOf, clock });
  registerOAuthRoutes(app, oauth);
  registerControlRoutes(app, control);
  registerAppControlRoutes(app, control);
  app.addHook('onClose', async () => webhooks.close());
  return { app, control };
}
