import Fastify, { LogController, type FastifyBaseLogger, type FastifyReply } from 'fastify';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import type { Db } from './db/client.js';
import { deriveKeys, type BridgeKeys } from './tenants/keys.js';
import { CursorCodec } from './sync/cursor.js';
import errorHandler from './plugins/error-handler.js';
import syncRoute from './sync/route.js';
import adminRoutes from './admin/routes.js';
import authValidationRoute from './tenants/auth-validation-route.js';
import integrationRoute from './talkdesk/integration-route.js';
import { Onboarding } from './tenants/onboarding.js';
import type { Queue } from 'bullmq';
import type { IngestControl } from '../workers/scheduler.js';
import type { IngestJob, IngestResult } from '../workers/queues.js';
import type { Connector } from './crm/connector.js';
import { Metrics } from './metrics/registry.js';
import observability from './plugins/observability.js';
import { CONTACT_ID_MAX_LENGTH } from './mirror/contact.js';
import unknownCredentialsLimit from './tenants/unknown-credentials-limit.js';

export interface AppDeps {
  config: Config;
  db: Db;
  /** The CRM behind zero-touch onboarding; without one, only tenants registered by push exist. */
  connector?: Connector;
  /** Starts a tenant's ingest (the BullMQ scheduler); without one, the workers' reconciliation does. */
  ingest?: IngestControl;
  /** The ingest queue, for the operators' views (queue board, job of a tenant, queue metrics). */
  queue?: Queue<IngestJob, IngestResult>;
  /** A pino logger (the server's); none = no request logging. */
  logger?: FastifyBaseLogger;
  /** Shared with the workers in one process (server.ts); a fresh one when absent. */
  metrics?: Metrics;
  /** Key and certificate (PEM) when the server speaks HTTPS itself (TLS_CERT_FILE/TLS_KEY_FILE). */
  https?: { key: Buffer; cert: Buffer };
  /** This process runs the ingest workers too (ROLE=all): /readyz then checks Redis. */
  checkRedis?: boolean;
}

/** What routes share, derived once from the dependencies. */
export interface AppServices {
  db: Db;
  keys: BridgeKeys;
  cursorCodec: CursorCodec;
  onboarding?: Onboarding;
  ingest?: IngestControl;
  queue?: Queue<IngestJob, IngestResult>;
  metrics: Metrics;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    deps: AppServices;
  }
}

/** The app the server runs and the tests inject into: no listen(), no environment reads. */
export async function buildApp({ config, db, connector, ingest, queue, logger, metrics = new Metrics(), checkRedis, https }: AppDeps) {
  const app = Fastify({
    ...(https ? { https } : {}),
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

  const keys = deriveKeys(config.BRIDGE_SECRET, config.BRIDGE_SECRET_PREVIOUS);
  app.decorate('config', config);
  const onboarding = connector ? new Onboarding({ db, keys, connector, ingest, log: app.log }) : undefined;
  const cursorCodec = new CursorCodec(keys.cursorTokens, {
    previousKey: keys.previous?.cursorTokens,
    // While these lines appear, some Talkdesk copy holds a checkpoint only BRIDGE_SECRET_PREVIOUS verifies.
    onPreviousKey: (kind, tenant) => app.log.info({ tenant, kind }, 'token signed under BRIDGE_SECRET_PREVIOUS accepted'),
  });
  app.decorate('deps', { db, keys, cursorCodec, onboarding, ingest, queue, metrics });

  await app.register(errorHandler);
  await app.register(observability, { checkRedis });
  await app.register(unknownCredentialsLimit);
  await app.register(syncRoute);
  await app.register(authValidationRoute);
  await app.register(integrationRoute);
  await app.register(adminRoutes, { prefix: '/admin' });
  // The operators' HTML pages: the status page and the queue board.
  await app.register(import('./admin/status-page.js'));
  await app.register(import('./admin/queue-board.js'));
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
