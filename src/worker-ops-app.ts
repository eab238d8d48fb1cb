import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Queue } from 'bullmq';
import type { AppServices } from './app.js';
import type { Config } from './config.js';
import type { Db } from './db/client.js';
import type { Metrics } from './metrics/registry.js';
import errorHandler from './plugins/error-handler.js';
import health from './plugins/health.js';
import metricsPlugin from './plugins/metrics.js';
import type { IngestJob, IngestResult } from '../workers/queues.js';

/**
 * A worker-only process (ROLE=worker) serves no API, but operators still scrape its ingest
 * metrics and probe it: this small app answers /metrics, /healthz and /readyz (PostgreSQL and
 * Redis, which its work needs) and nothing else.
 */
export async function buildWorkerOpsApp(deps: {
  config: Config;
  db: Db;
  queue: Queue<IngestJob, IngestResult>;
  metrics: Metrics;
  logger?: FastifyBaseLogger;
}) {
  const app = Fastify(deps.logger ? { loggerInstance: deps.logger } : { logger: false });
  app.decorate('config', deps.config);
  // Only what the health and metrics plugins read; the API's services are not built here.
  app.decorate('deps', { db: deps.db, queue: deps.queue, metrics: deps.metrics } as AppServices);
  await app.register(errorHandler);
  await app.register(metricsPlugin);
  await app.register(health, { checkRedis: true });
  return app;
}
