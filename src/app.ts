import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { Db } from './db/client.js';
import type { BridgeKeys } from './tenants/keys.js';
import type { Onboarding } from './tenants/onboarding.js';
import type { ConnectorRegistry } from './crm/registry.js';
import type { IngestControl } from './ingest/control.js';
import type { Metrics } from './metrics/registry.js';
import { CONTACT_ID_MAX_LENGTH } from './mirror/contact.js';
import configPlugin from './plugins/config.js';
import dbPlugin from './db/plugin.js';
import ingestPlugin from './ingest/plugin.js';
import webhooksPlugin from './webhooks/plugin.js';
import pipedriveWebhookRoute from './webhooks/pipedrive-route.js';
import type { WebhookEnqueue } from './webhooks/enqueue.js';
import tenantsPlugin from './tenants/plugin.js';
import errorHandler from './plugins/error-handler.js';
import openapi from './plugins/openapi.js';
import overload from './plugins/overload.js';
import requestLog from './plugins/request-log.js';
import metricsPlugin from './plugins/metrics.js';
import health from './plugins/health.js';
import unknownCredentialsLimit from './tenants/unknown-credentials-limit.js';
import syncRoute from './sync/route.js';
import authValidationRoute from './tenants/auth-validation-route.js';
import integrationRoute from './talkdesk/integration-route.js';
import adminRoutes from './admin/routes.js';
import hubspotWebhookRoute from './crm/hubspot/webhook-route.js';
import { viewsDir } from './admin/status-page.js';
import connectionLimit, { edgeServerOptions } from './plugins/http-edge.js';
import securityHeaders from './plugins/security-headers.js';
import hubspotConnectRoutes from './connect/hubspot-routes.js';
import type { HubSpotApp } from './connect/hubspot-app.js';

/** The ready services the app is built from; src/runtime.ts makes them, for every process. */
export interface AppServices {
  config: Config;
  db: Db;
  keys: BridgeKeys;
  metrics: Metrics;
  /** Steers ingest (the queues); absent in a process built without them. */
  ingest?: IngestControl;
  /** Queues the CRMs' webhook events for the workers; absent in a process built without the queues. */
  webhooks?: WebhookEnqueue;
  /** The CRM connectors this process enables. */
  connectors: ConnectorRegistry;
  /** Zero-touch onboarding through the enabled CRM connectors; absent when none is enabled. */
  onboarding?: Onboarding;
  /** The HubSpot app customers connect their portals through (HUBSPOT_CLIENT_ID); absent: /connect/hubspot is 404. */
  hubspotApp?: HubSpotApp;
  /** A pino logger (the server's); none = no request logging. */
  logger?: FastifyBaseLogger;
  /** Key and certificate (PEM) when the server speaks HTTPS itself (TLS_CERT_FILE/TLS_KEY_FILE). */
  https?: { key: Buffer; cert: Buffer };
  /** Set where this process runs the ingest workers too (ROLE=all): /readyz then checks Redis. */
  pingRedis?: () => Promise<unknown>;
}

/** The app the server runs and the tests inject into: no listen(), no environment reads. */
export async function buildApp({ config, db, keys, metrics, connectors, ingest, webhooks, onboarding, hubspotApp, logger, https, pingRedis }: AppServices) {
  // Timeouts, keep-alive and TRUST_PROXY (plugins/http-edge.ts): a request must arrive in time.
  const { server: serverOptions, ...edge } = edgeServerOptions(config);
  const app = Fastify({
    ...(https ? { https: { ...https, ...serverOptions } } : { http: serverOptions }),
    ...edge,
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    // Every route that reads a body sets its own limit (the sync endpoint, the admin routes); this
    // is the limit of the rest (auth validation, the queue board's API), whose bodies are a few
    // fields. The admin contacts push alone is large, by design, and raises it on its route.
    bodyLimit: 16 * 1024,
    // A contact id is a path parameter of the admin API (DELETE …/contacts/:contactId): the
    // router's default of 100 characters answered 414 for ids the push accepts. Measured decoded.
    routerOptions: { maxParamLength: CONTACT_ID_MAX_LENGTH },
    // Errors Fastify raises before routing (a path that does not decode, a parameter over that
    // length) would otherwise answer in Fastify's own shape; every client error is ours.
    frameworkErrors: (error, _request, reply) => {
      (reply as FastifyReply).code(error.statusCode ?? 400).send({ error: error.code, message: error.message });
    },
    // One line per request instead, with the sync's tenant, kind and page (plugins/request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // TypeBox validates bodies as sent, without Ajv's type coercion (which would quietly turn a
  // token of "" into null, or 2 into "2"); params and query strings are still converted.
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  // Once closing, answers carry `Connection: close`: a keep-alive connection whose request was
  // in flight at SIGTERM would otherwise hold the server open until its idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  // Each area's decoration, named and typed next to the plugin that adds it (app.config, app.db, …).
  await app.register(configPlugin, { value: config });
  await app.register(dbPlugin, { value: db });
  await app.register(ingestPlugin, { value: ingest ?? null });
  await app.register(webhooksPlugin, { value: webhooks ?? null });
  await app.register(errorHandler);
  await app.register(connectionLimit);
  // Before the routes: helmet's headers on the operators' pages (/admin, /docs), marked as they are added.
  await app.register(securityHeaders, { views: viewsDir });
  // Before the routes: the OpenAPI document and these hooks must see every route added after them.
  await app.register(openapi);
  await app.register(overload);
  await app.register(requestLog);
  await app.register(metricsPlugin, { metrics, sources: { jobCounts: ingest && ((states) => ingest.jobCounts(states)) } });
  await app.register(health, { pingRedis });
  await app.register(unknownCredentialsLimit);
  await app.register(tenantsPlugin, { keys, connectors, onboarding });
  await app.register(syncRoute);
  await app.register(authValidationRoute);
  await app.register(hubspotWebhookRoute, { metrics });
  await app.register(pipedriveWebhookRoute);
  await app.register(integrationRoute, { oauth: hubspotApp !== undefined });
  if (hubspotApp) await app.register(hubspotConnectRoutes, { app: hubspotApp, mode: config.ONBOARDING });
  // The operators' API and pages (status page, queue board), behind one ADMIN_TOKEN check.
  await app.register(adminRoutes, { prefix: '/admin' });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
