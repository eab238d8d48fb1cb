import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import createError from '@fastify/error';

const MetricsUnauthorizedError = createError('METRICS_UNAUTHORIZED', 'a valid metrics bearer token is required', 401);

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * GET /metrics (Prometheus text) and the request-duration histogram. Open unless METRICS_TOKEN is
 * set; it is not behind ADMIN_TOKEN, so a scraper never holds a credential that can write.
 */
export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const { metrics } = app.deps;
    metrics.collectFrom({ db: app.deps.db, queue: app.deps.queue });

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
  { name: 'metrics' },
);
