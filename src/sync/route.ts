import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { CursorCodec } from './cursor.js';
import { errorResponses } from '../plugins/error-handler.js';
import { SYNC_BODY_LIMIT, SyncRequestSchema, SyncResponseSchema } from './schema.js';
import { renderSyncResponse } from './response.js';
import { ReadAhead } from './read-ahead.js';
import { syncPage } from './sync-page.js';

/** POST /contact_sync (SYNC_PATH): answered from the mirror only, never from the CRM or Redis. */
const syncRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db, metrics, tenants } = app;
  const { keys } = tenants;
  const cursorCodec = new CursorCodec(keys.cursorTokens, {
    previousKey: keys.previous?.cursorTokens,
    // While these lines appear, some Talkdesk copy holds a checkpoint only BRIDGE_SECRET_PREVIOUS verifies.
    onPreviousKey: (kind, tenant) => app.log.info({ tenant, kind }, 'token signed under BRIDGE_SECRET_PREVIOUS accepted'),
  });
  const readAhead = config.SYNC_READ_AHEAD ? new ReadAhead(db.$client) : undefined;
  if (readAhead) app.addHook('onClose', () => readAhead.settle());
  app.post(
    config.SYNC_PATH,
    {
      bodyLimit: SYNC_BODY_LIMIT,
      schema: {
        summary: 'Talkdesk contact synchronization: one page of a sync run',
        body: SyncRequestSchema,
        response: { 200: SyncResponseSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { tenant, credential } = await tenants.resolve(request.body.auth, request);
      // The request's log line (plugins/request-log.ts) names the tenant even when the page fails.
      request.syncLog = { tenant: tenant.id };
      const answer = await syncPage(db, cursorCodec, tenant, credential, request.body.meta ?? {}, {
        pageSize: config.SYNC_PAGE_SIZE,
        deletionResyncSeconds: config.DELETION_RESYNC_SECONDS,
        readAhead,
      });
      const { kind, page, count } = answer;
      request.syncLog = { tenant: tenant.id, kind, page, contacts: count };
      // A run is counted once, on the page asked for without an offset.
      metrics.countSyncPage(kind, count, request.body.meta?.offset == null);
      if (answer.readAhead) metrics.syncReadAhead.inc({ result: answer.readAhead });
      // Already JSON (the contacts as stored): sent as it is, past the response serializer. The
      // schema above still documents it, and test/sync-response-shape.test.ts holds every answer to it.
      return (reply as FastifyReply).type('application/json; charset=utf-8').send(renderSyncResponse(answer));
    },
  );
};

export default syncRoute;
