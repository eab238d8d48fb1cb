import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import createError from '@fastify/error';
import { adminAuth } from '../plugins/admin-auth.js';
import { ContactSchema, TombstoneSchema, type ContactChange } from '../mirror/contact.js';
import { InvalidChangeError, writeContacts } from '../mirror/writer.js';
import { createTenant } from '../tenants/repository.js';
import { authObject, ErrorSchema } from '../sync/schema.js';
import { NO_BODY_LIMIT, SMALL_BODY_LIMIT, PUSH_BODY_LIMIT, TenantName } from './limits.js';
import tenantRoutes from './tenant-routes.js';

const ContactNotFoundError = createError<[string]>('CONTACT_NOT_FOUND', 'no live contact with id %s', 404);
const NoCrmError = createError<[string]>('CRM_NOT_CONFIGURED', 'this bridge has no %s connector', 400);

const TenantParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }),
});
const MAX_BATCH = 10_000;
const errors = { '4xx': ErrorSchema, '5xx': ErrorSchema };

const contactCheck = TypeCompiler.Compile(ContactSchema);
const tombstoneCheck = TypeCompiler.Compile(TombstoneSchema);

/** Each item checked on its own, so a bad one is reported by index with the reason. */
function validateBatch(items: unknown[]): ContactChange[] {
  items.forEach((item, index) => {
    const isTombstoneItem = typeof item === 'object' && item !== null && 'deleted' in item;
    const check = isTombstoneItem ? tombstoneCheck : contactCheck;
    // The compiled check is fast; walking the errors is not, so only a failing item pays for it.
    if (check.Check(item)) return;
    const error = check.Errors(item).First();
    const where = !error || error.path === '' ? 'the item' : error.path.slice(1);
    throw new InvalidChangeError(index, `${where}: ${error ? error.message.toLowerCase() : 'does not match the schema'}`);
  });
  return items as ContactChange[];
}

/** The minimal admin API: register a tenant and push contacts into its mirror. */
const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, deps } = app;
  app.addHook('onRequest', adminAuth(config.ADMIN_TOKEN));
  await app.register(tenantRoutes);

  app.post(
    '/tenants',
    {
      bodyLimit: SMALL_BODY_LIMIT,
      schema: {
        summary: 'Register a tenant: fed through this API, or (crm) mirrored from a CRM account',
        body: Type.Object({
          name: TenantName,
          auth: authObject('exactly the auth object Talkdesk will send'),
          crm: Type.Optional(Type.Literal('hubspot', { description: 'verify the auth with this CRM and ingest its contacts' })),
        }),
        response: { 201: Type.Object({ id: Type.String() }), ...errors },
      },
    },
    async (request, reply) => {
      if (request.body.crm !== undefined) {
        if (!deps.onboarding) throw new NoCrmError(request.body.crm);
        const tenant = await deps.onboarding.register(request.body.auth, request.body.name);
        return reply.code(201).send({ id: tenant.id });
      }
      const tenant = await createTenant(deps.db, deps.keys, {
        name: request.body.name,
        crm: 'push',
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
    async (request) => writeContacts(deps.db, request.params.id, validateBatch(request.body)),
  );

  app.delete(
    '/tenants/:id/contacts/:contactId',
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        summary: 'Tombstone one contact',
        params: Type.Object({ id: TenantParams.properties.id, contactId: ContactSchema.properties.id }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const { id, contactId } = request.params;
      const counts = await writeContacts(deps.db, id, validateBatch([{ id: contactId, deleted: true }]));
      if (counts.deleted === 0) throw new ContactNotFoundError(contactId);
      return reply.code(204).send(null);
    },
  );
};

export default adminRoutes;
