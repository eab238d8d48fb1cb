import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import createError from '@fastify/error';
import type { Metrics, MetricsSources } from '../metrics/registry.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's Prometheus registry, shared by the API and the workers of one process. */
    metrics: Metrics;
  }
}

export interface MetricsPluginOptions {
  metrics: Metrics;
  /** What the scrape-time gauges read: the database and the ingest queue's job counts. */
  sources: MetricsSources;
}

const MetricsUnauthorizedError = createError('METRICS_UNAUTHORIZED', 'a valid metrics bearer token is required', 401);

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * GET /metrics (Prometheus text) and the request-duration histogram. Open unless METRICS_TOKEN is
 * set; it is not behind ADMIN_TOKEN, so a scraper never holds a credential that can write.
 */
export default fp(
  async function metricsPlugin(app: FastifyInstance, { metrics, sources }: MetricsPluginOptions) {
    app.decorate('metrics', metrics);
    metrics.collectFrom(sources);

    app.addHook('onResponse', async (request, reply) => {
      // The route pattern, never the raw URL: ids in paths would make a series per tenant or
      // contact. Anything that matched no route shares one label.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpRequestDuration.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });

    const expected = app.config.METRICS_TOKEN === undefined ? undefined : digest(app.config.METRICS_TOKEN);
    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          description: 'Bearer METRICS_TOKEN when that is set; open otherwise.',
          tags: ['operations'],
        },
        // Overload is exactly when the numbers are wanted.
        config: { pressureHandler: () => {} },
        onRequest: async (request, reply) => {
          if (!expected) return;
          const given = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
          if (given === undefined || !timingSafeEqual(digest(given), expected)) {
            reply.header('www-authenticate', 'Bearer realm="contact-bridge metrics"');
            throw new MetricsUnauthorizedError();
          }
        },
      },
      async (_request, reply) => reply.header('content-type', metrics.contentType).send(await metrics.scrape()),
    );
  },
  { name: 'metrics', dependencies: ['config'] },
);
