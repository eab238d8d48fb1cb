import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import createError from '@fastify/error';
import { sql } from 'drizzle-orm';
import { ContactSchema } from '../mirror/contact.js';
import { writeContacts, type MirrorChange } from '../mirror/writer.js';
import { getTenant } from '../tenants/repository.js';
import { TenantNotFoundError } from '../tenants/errors.js';
import { errorResponses as errors } from '../plugins/error-handler.js';
import type { CountryCode } from 'libphonenumber-js/max';
import { ContactDetailSchema, contactDetail } from './contact-detail.js';
import { NO_BODY_LIMIT } from './limits.js';
import { lookup, lookupQuery, LookupQuerystring, LookupResponseSchema } from './contact-lookup.js';
import { TenantParams } from './tenant-routes.js';

const ContactNotFoundError = createError<[string]>('CONTACT_NOT_FOUND', 'no contact with id %s', 404);
const LiveContactNotFoundError = createError<[string]>('CONTACT_NOT_FOUND', 'no live contact with id %s', 404);

const ContactParams = Type.Object({ id: TenantParams.properties.id, contactId: ContactSchema.properties.id });

/** A tenant's contacts, for an operator asking why a caller was not identified: the lookup, one contact's detail, its deletion. */
const contactRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;
  const region = app.config.DEFAULT_PHONE_REGION as CountryCode;

  app.get(
    '/tenants/:id/contacts',
    {
      schema: {
        summary: 'Find contacts by phone (any format), email or the start of a name; deleted ones too, flagged',
        params: TenantParams,
        querystring: LookupQuerystring,
        response: { 200: LookupResponseSchema, ...errors },
      },
    },
    async (request) => {
      const query = lookupQuery(request.query);
      const tenant = await getTenant(db, request.params.id);
      if (!tenant) throw new TenantNotFoundError(request.params.id);
      return lookup(db, tenant, query, { region, limit: request.query.limit, offset: request.query.offset });
    },
  );

  app.get(
    '/tenants/:id/contacts/:contactId',
    {
      schema: {
        summary: 'One contact: as Talkdesk receives it, its key, its history, and whether each Talkdesk copy has it',
        params: ContactParams,
        response: { 200: ContactDetailSchema, ...errors },
      },
    },
    async (request) => {
      const { id, contactId } = request.params;
      const detail = await contactDetail(db, id, contactId);
      if (detail) return detail;
      if (!(await getTenant(db, id))) throw new TenantNotFoundError(id);
      throw new ContactNotFoundError(contactId);
    },
  );

  app.delete(
    '/tenants/:id/contacts/:contactId',
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        summary: 'Tombstone one contact; with erase=true also remove its data and history (a privacy deletion)',
        params: ContactParams,
        querystring: Type.Object({
          erase: Type.Optional(
            Type.Boolean({
              description:
                'also remove the contact\'s data and history, leaving only its id as a tombstone (works on a contact already deleted too)',
            }),
          ),
        }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const { id, contactId } = request.params;
      const erase = request.query.erase === true;
      const change: MirrorChange = erase ? { id: contactId, deleted: true, erase: true } : { id: contactId, deleted: true };
      await writeContacts(db, id, [change], 'admin_push', async (tx, counts) => {
        if (counts.deleted > 0) return;
        // Nothing tombstoned: a plain deletion needs a live contact, an erasure any contact.
        // Thrown inside the transaction, so it also undoes nothing but its own no-op.
        if (!erase) throw new LiveContactNotFoundError(contactId);
        const { rowCount } = await tx.execute(sql`SELECT 1 FROM contacts WHERE tenant_id = ${id} AND id = ${contactId}`);
        if (rowCount === 0) throw new ContactNotFoundError(contactId);
      });
      return reply.code(204).send(null);
    },
  );
};

export default contactRoutes;
