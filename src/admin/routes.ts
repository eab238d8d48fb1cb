import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import createError from '@fastify/error';
import { adminScopeHook } from '../plugins/admin-auth.js';
import { refuseBodies, sameOriginWrites } from '../plugins/admin-writes.js';
import { writeContacts } from '../mirror/writer.js';
import { validateBatch } from './push-validation.js';
import { PUSH_CRM } from '../tenants/lifecycle.js';
import { createTenant } from '../tenants/repository.js';
import { authObject } from '../tenants/auth-schema.js';
import { errorResponses as errors } from '../plugins/error-handler.js';
import { NO_BODY_LIMIT, SMALL_BODY_LIMIT, PUSH_BODY_LIMIT, TenantName } from './limits.js';
import tenantRoutes, { TenantParams } from './tenant-routes.js';
import contactRoutes from './contact-routes.js';
import statusPage from './status-page.js';
import queueBoard from './queue-board.js';

const NoCrmError = createError<[string]>('CRM_NOT_CONFIGURED', 'this bridge has no %s connector', 400);

const MAX_BATCH = 10_000;

/**
 * Everything under /admin, behind one check of ADMIN_TOKEN: the status page, the queue board,
 * the tenant routes, one contact's detail and deletion, and the push API (register a tenant,
 * push contacts into its mirror).
 */
const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, tenants } = app;
  app.addHook('onRequest', adminScopeHook(app.config.ADMIN_TOKEN));
  // Writes only from the bridge's own pages or from scripts (no cross-site forms), and routes that
  // read no body refuse one (plugins/admin-writes.ts).
  app.addHook('onRequest', sameOriginWrites(app.config.PUBLIC_URL));
  app.addHook('preValidation', refuseBodies(NO_BODY_LIMIT));
  await app.register(tenantRoutes);
  await app.register(contactRoutes);
  await app.register(statusPage);
  await app.register(queueBoard);

  app.post(
    '/tenants',
    {
      bodyLimit: SMALL_BODY_LIMIT,
      schema: {
        summary: 'Register a tenant: fed through this API, or (crm) mirrored from a CRM account',
        body: Type.Object({
          name: TenantName,
          auth: authObject('exactly the auth object Talkdesk will send'),
          crm: Type.Optional(Type.String({ maxLength: 64, description: "verify the auth with this CRM ('hubspot', …) and ingest its contacts" })),
        }),
        response: { 201: Type.Object({ id: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      if (request.body.crm !== undefined) {
        const connector = tenants.onboarding && tenants.connectors.get(request.body.crm);
        if (!connector) throw new NoCrmError(request.body.crm);
        const tenant = await tenants.onboarding!.register(connector, request.body.auth, request.body.name);
        return reply.code(201).send({ id: tenant.id });
      }
      const tenant = await createTenant(db, tenants.keys, {
        name: request.body.name,
        crm: PUSH_CRM,
        auth: request.body.auth,
        // Nothing to backfill: the mirror is complete as soon as it exists.
        backfillComplete: true,
      });
      return reply.code(201).send({ id: tenant.id });
    },
  );

  app.put(
    '/tenants/:id/contacts',
    {
      bodyLimit: PUSH_BODY_LIMIT,
      schema: {
        summary: 'Upsert or tombstone up to 10,000 contacts in one transaction',
        params: TenantParams,
        body: Type.Array(Type.Unknown(), { maxItems: MAX_BATCH }),
        response: {
          200: Type.Object({
            inserted: Type.Integer(),
            updated: Type.Integer(),
            unchanged: Type.Integer(),
            deleted: Type.Integer(),
          }),
          ...errors,
        },
      },
    },
    async (request) => writeContacts(db, request.params.id, validateBatch(request.body), 'admin_push'),
  );
};

export default adminRoutes;
