import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fastifyView from '@fastify/view';
// Types only: `schema.hide` keeps this HTML page out of the API docs.
import type {} from '@fastify/swagger';
import { Eta } from 'eta';
import { listTenantSummaries } from './tenant-summary.js';
import { QUEUE_BOARD_PATH } from './queue-board.js';
import { tenantRow } from './status-view.js';
import lookupPage from './lookup-page.js';

export const STATUS_PAGE_PATH = '/admin';
export const TENANTS_PER_PAGE = 200;

/**
 * tsc emits no templates, so from dist/src/admin/ the views are read from the source tree,
 * unless a deployment copied them next to the compiled module.
 */
const besideModule = fileURLToPath(new URL('./views/', import.meta.url));
export const viewsDir = existsSync(besideModule)
  ? besideModule
  : fileURLToPath(new URL('../../../src/admin/views/', import.meta.url));

/** `GET /admin`: every tenant's health on one HTML page, with the operator's buttons and a contact search per tenant. */
const statusPage: FastifyPluginAsyncTypebox = async (app) => {
  const { db, ingest } = app;
  await app.register(fastifyView, {
    // autoEscape: tenant names, CRM errors and job states are all data from outside.
    engine: { eta: new Eta({ views: viewsDir, autoEscape: true }) },
    root: viewsDir,
  });

  // Inside the `/admin` scope: the page is /admin itself, and /admin/ redirects to it.
  app.get(
    '/',
    {
      prefixTrailingSlash: 'no-slash',
      schema: {
        hide: true,
        querystring: Type.Object({ page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })) }),
      },
    },
    async (request, reply) => {
      const page = request.query.page ?? 1;
      const { tenants, total } = await listTenantSummaries(
        db,
        { limit: TENANTS_PER_PAGE, offset: (page - 1) * TENANTS_PER_PAGE },
        ingest,
      );
      const now = Date.now();
      // Summaries can be stale by the time an operator clicks; the page says when it was drawn.
      reply.header('cache-control', 'no-store');
      return reply.view('status', {
        rows: tenants.map((t) => tenantRow(t, now)),
        total,
        page,
        first: total === 0 ? 0 : (page - 1) * TENANTS_PER_PAGE + 1,
        last: (page - 1) * TENANTS_PER_PAGE + tenants.length,
        previousPage: page > 1 ? `${STATUS_PAGE_PATH}?page=${page - 1}` : null,
        nextPage: page * TENANTS_PER_PAGE < total ? `${STATUS_PAGE_PATH}?page=${page + 1}` : null,
        queueBoard: ingest ? QUEUE_BOARD_PATH : null,
        // Without METRICS_TOKEN, /metrics is served on the internal METRICS_PORT only.
        metricsLink: app.config.METRICS_TOKEN === undefined ? null : '/metrics',
        renderedAt: new Date(now).toISOString(),
      });
    },
  );

  // The search box of each tenant: rendered with this page's views.
  await app.register(lookupPage);

  // A typed trailing slash would otherwise be a JSON 404.
  app.get('/', { prefixTrailingSlash: 'slash', schema: { hide: true } }, (_request, reply) => reply.redirect(STATUS_PAGE_PATH));
};

export default statusPage;
