import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import createError from '@fastify/error';
import { TenantNotFoundError } from '../tenants/errors.js';
import { approveTenant, deleteTenantAndRefuse, pauseTenant, resumeTenant, resyncTenant, revokeCredential } from '../tenants/lifecycle.js';
import { renameTenant } from '../tenants/repository.js';
import { errorResponses as errors } from '../plugins/error-handler.js';
import { getTenantSummary, listTenantSummaries, TenantSummarySchema } from './tenant-summary.js';
import { NAME_BODY_LIMIT, NO_BODY_LIMIT, TenantName } from './limits.js';

/** `:id` of every /admin/tenants/:id route. */
export const TenantParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }),
});
const StatusAnswer = Type.Object({ id: Type.String(), status: Type.String() });
const CredentialNotFoundError = createError<[string]>('CREDENTIAL_NOT_FOUND', 'this tenant has no credential %s', 404);

/** Operators steer tenants: list and inspect them, rename, pause, resume, resync, revoke a credential, delete. */
const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, ingest } = app;

  app.get(
    '/tenants',
    {
      schema: {
        summary: 'List tenants with their ingest state',
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'default 50' })),
          // Bounded: an offset past PostgreSQL's bigint (1e20) was a failed query, a 500.
          offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'default 0' })),
        }),
        response: {
          200: Type.Object({ tenants: Type.Array(TenantSummarySchema), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { limit = 50, offset = 0 } = request.query;
      return { ...(await listTenantSummaries(db, { limit, offset }, ingest)), limit, offset };
    },
  );

  app.get(
    '/tenants/:id',
    { schema: { summary: 'One tenant with its ingest state', params: TenantParams, response: { 200: TenantSummarySchema, ...errors } } },
    async (request) => {
      const summary = await getTenantSummary(db, request.params.id, ingest);
      if (!summary) throw new TenantNotFoundError(request.params.id);
      return summary;
    },
  );

  app.patch(
    '/tenants/:id',
    {
      bodyLimit: NAME_BODY_LIMIT,
      schema: {
        summary: 'Rename a tenant',
        params: TenantParams,
        body: Type.Object({ name: TenantName }, { additionalProperties: false }),
        response: { 200: TenantSummarySchema, ...errors },
      },
    },
    async (request) => {
      if (!(await renameTenant(db, request.params.id, request.body.name))) throw new TenantNotFoundError(request.params.id);
      return (await getTenantSummary(db, request.params.id, ingest))!;
    },
  );

  app.post(
    '/tenants/:id/pause',
    { bodyLimit: NO_BODY_LIMIT, schema: { summary: 'Stop ingesting a tenant (its mirror keeps being served)', params: TenantParams, response: { 200: StatusAnswer, ...errors } } },
    async (request) => ({ id: request.params.id, status: await pauseTenant(db, ingest, request.params.id) }),
  );

  app.post(
    '/tenants/:id/approve',
    { bodyLimit: NO_BODY_LIMIT, schema: { summary: 'Serve a tenant awaiting approval (ONBOARDING=approval): its backfill starts', params: TenantParams, response: { 200: StatusAnswer, ...errors } } },
    async (request) => ({ id: request.params.id, status: await approveTenant(db, ingest, request.params.id) }),
  );

  app.post(
    '/tenants/:id/resume',
    { bodyLimit: NO_BODY_LIMIT, schema: { summary: 'Resume ingesting a paused tenant', params: TenantParams, response: { 200: StatusAnswer, ...errors } } },
    async (request) => ({ id: request.params.id, status: await resumeTenant(db, ingest, request.params.id) }),
  );

  app.post(
    '/tenants/:id/resync',
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        summary: 'Backfill the tenant afresh; contacts the CRM no longer has are tombstoned when it completes',
        params: TenantParams,
        response: { 200: StatusAnswer, ...errors },
      },
    },
    async (request) => ({ id: request.params.id, status: await resyncTenant(db, ingest, request.params.id) }),
  );

  app.delete(
    '/tenants/:id/credentials/:credentialId',
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        summary: "Revoke one of a tenant's credentials: that Talkdesk copy's auth is refused from now on",
        params: Type.Object({ id: TenantParams.properties.id, credentialId: TenantParams.properties.id }),
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const { id, credentialId } = request.params;
      if (!(await revokeCredential(db, ingest, id, credentialId))) throw new CredentialNotFoundError(credentialId);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/tenants/:id',
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        summary: 'Delete a tenant: its schedule, jobs, contacts and credentials; its CRM account stays out until an operator registers it',
        params: TenantParams,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      if (!(await deleteTenantAndRefuse(db, id))) throw new TenantNotFoundError(id);
      // The row is gone, with its contacts, ingest state and encrypted credentials; a job still
      // running fails on its next page, since the writer finds no tenant.
      await ingest?.forget(id);
      return reply.code(204).send(null);
    },
  );
};

export default tenantRoutes;
