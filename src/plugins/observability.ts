import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import health, { type HealthOptions } from './health.js';
import metrics from './metrics.js';
import openapi from './openapi.js';
import overload from './overload.js';
import requestLog from './request-log.js';

/**
 * What operators run the bridge with: the OpenAPI document, back-pressure, one log line per
 * request, Prometheus metrics, liveness and readiness. Registered before the routes, because the
 * OpenAPI document and the hooks must see every route added after them.
 */
export default fp(
  async function observability(app: FastifyInstance, options: HealthOptions) {
    await app.register(openapi);
    await app.register(overload);
    await app.register(requestLog);
    await app.register(metrics);
    await app.register(health, options);
  },
  { name: 'observability' },
);
