import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import type { Db } from './db/client.js';
import type { Metrics } from './metrics/registry.js';
import configPlugin from './plugins/config.js';
import dbPlugin from './db/plugin.js';
import errorHandler from './plugins/error-handler.js';
import health from './plugins/health.js';
import connectionLimit, { edgeServerOptions } from './plugins/http-edge.js';
import metricsPlugin from './plugins/metrics.js';

export interface WorkerOpsServices {
  config: Config;
  db: Db;
  metrics: Metrics;
  /** Redis, which the workers' work needs. */
  pingRedis: () => Promise<unknown>;
  jobCounts: (states: readonly string[]) => Promise<Record<string, number> | undefined>;
  logger?: FastifyBaseLogger;
}

/**
 * A worker-only process (ROLE=worker) serves no API, but operators still scrape its ingest
 * metrics and probe it: this small app answers /healthz, /readyz (PostgreSQL and Redis) and
 * /metrics, by the same rule as the API's port (bearer METRICS_TOKEN; without it 404, and the
 * internal metrics server serves them), and nothing else.
 */
export async function buildWorkerOpsApp({ config, db, metrics, pingRedis, jobCounts, logger }: WorkerOpsServices) {
  // The same timeouts and per-client connection cap as the API's port (plugins/http-edge.ts).
  const { server: serverOptions, ...edge } = edgeServerOptions(config);
  const app = Fastify({ http: serverOptions, ...edge, ...(logger ? { loggerInstance: logger } : { logger: false }) });
  await app.register(configPlugin, { value: config });
  await app.register(connectionLimit);
  await app.register(dbPlugin, { value: db });
  await app.register(errorHandler);
  await app.register(metricsPlugin, { metrics, sources: { jobCounts } });
  await app.register(health, { pingRedis });
  return app;
}
