import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { resolveTenant } from '../tenants/resolve.js';
import { ErrorSchema, SYNC_BODY_LIMIT, SyncRequestSchema, SyncResponseSchema } from './schema.js';
import { syncPage } from './sync-page.js';

/** POST /contact_sync (SYNC_PATH): answered from the mirror only, never from the CRM or Redis. */
const syncRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { config, deps } = app;
  app.post(
    config.SYNC_PATH,
    {
      bodyLimit: SYNC_BODY_LIMIT,
      schema: {
        summary: 'Talkdesk contact synchronization: one page of a sync run',
        body: SyncRequestSchema,
        response: { 200: SyncResponseSchema, '4xx': ErrorSchema, '5xx': ErrorSchema },
      },
    },
    async (request) => {
      const tenant = await resolveTenant(deps, request.body.auth, request.ip);
      // The request's log line (plugins/request-log.ts) names the tenant even when the page fails.
      request.syncLog = { tenant: tenant.id };
      const answer = await syncPage(deps.db, deps.cursorCodec, tenant, request.body.meta ?? {}, {
        pageSize: config.SYNC_PAGE_SIZE,
        deletionResyncSeconds: config.DELETION_RESYNC_SECONDS,
      });
      const { kind, page, contacts } = answer;
      request.syncLog = { tenant: tenant.id, kind, page, contacts: contacts.length };
      // A run is counted once, on the page asked for without an offset.
      deps.metrics.countSyncPage(kind, contacts.length, request.body.meta?.offset == null);
      const { kind: _kind, page: _page, ...body } = answer;
      return body;
    },
  );
};

export default syncRoute;
