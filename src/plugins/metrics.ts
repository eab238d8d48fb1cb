import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
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
  /** What the scrape-time gauges read: the ingest queue's job counts. */
  sources: MetricsSources;
}

const MetricsUnauthorizedError = createError('METRICS_UNAUTHORIZED', 'a valid metrics bearer token is required', 401);

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The exposition text, for the public route and for the internal metrics server (metrics/server.ts). */
export async function sendMetrics(metrics: Metrics, reply: FastifyReply): Promise<FastifyReply> {
  return reply.header('content-type', metrics.contentType).send(await metrics.scrape());
}

/**
 * GET /metrics (Prometheus text) and the request-duration histogram. The metrics name every
 * tenant's id and size, so this port serves them only to the bearer of METRICS_TOKEN (never
 * ADMIN_TOKEN, so a scraper holds no credential that can write). Without METRICS_TOKEN the route
 * answers exactly as an unknown path does: the internal metrics server serves them instead.
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
          description:
            'Bearer METRICS_TOKEN. Without METRICS_TOKEN this port answers 404, and the metrics are served on METRICS_HOST:METRICS_PORT (127.0.0.1:9464 by default) instead.',
          tags: ['operations'],
        },
        // Overload is exactly when the numbers are wanted.
        config: { pressureHandler: () => {} },
        onRequest: async (request, reply) => {
          if (!expected) {
            // The error handler's answer to an unknown path, word for word. Still a route, so a
            // scraper pointed at the wrong port is logged at debug like any scrape.
            return reply.code(404).send({ error: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` });
          }
          const given = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
          if (given === undefined || !timingSafeEqual(digest(given), expected)) {
            reply.header('www-authenticate', 'Bearer realm="contact-bridge metrics"');
            throw new MetricsUnauthorizedError();
          }
        },
      },
      async (_request, reply) => sendMetrics(metrics, reply),
    );
  },
  { name: 'metrics', dependencies: ['config'] },
);
