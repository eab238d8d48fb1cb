import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { adminAuth } from './admin-auth.js';

/**
 * The OpenAPI 3 document, generated from the route schemas, at /docs/json (UI at /docs), behind
 * the admin token. It must be registered before the routes it describes: it collects them as
 * they are added.
 *
 * Only routes that declare a schema are documented: the HTML pages and the queue board's assets
 * are not an API. The operations routes (/healthz, /readyz, /metrics) are documented, since
 * probes and scrapers are configured from them.
 */
export default fp(
  async function openapi(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'contact-bridge',
          description: 'Talkdesk contact-sync bridge answering from a PostgreSQL mirror of the CRM.',
          version: packageVersion(),
        },
        tags: [
          { name: 'talkdesk', description: 'what Talkdesk calls' },
          { name: 'admin', description: `bearer ADMIN_TOKEN` },
          { name: 'operations', description: 'probes and metrics' },
        ],
        components: {
          securitySchemes: {
            adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
            metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when it is set' },
          },
        },
      },
      transform: ({ schema, url }) => {
        if (!schema) return { schema: { hide: true }, url };
        if (url.startsWith('/admin')) return { schema: { tags: ['admin'], ...schema, security: [{ adminToken: [] }] }, url };
        if (url === '/metrics') return { schema: { ...schema, security: [{ metricsToken: [] }] }, url };
        if (url === app.config.SYNC_PATH || url === '/auth_validation') return { schema: { tags: ['talkdesk'], ...schema }, url };
        return { schema, url };
      },
    });
    // It describes the admin API too, so it is the operators' (README: everything but the probes
    // and /metrics needs the admin token); a browser gets the basic-auth prompt. The hook is on a
    // scope of its own rather than the UI's uiHooks, which do not cover its static files.
    await app.register(async (docs) => {
      docs.addHook('onRequest', adminAuth(app.config.ADMIN_TOKEN));
      await docs.register(swaggerUi, { routePrefix: '/docs' });
    });
  },
  { name: 'openapi' },
);

/** Our package.json's version, found from src/ and from dist/src/ alike. */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        return String((JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown');
      } catch {
        return 'unknown';
      }
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
