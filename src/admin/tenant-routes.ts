import { Type } from '@sinclair/typebox';
import createError from '@fastify/error';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { eq, sql } from 'drizzle-orm';
import { tenants, type TenantStatus } from '../db/schema.js';
import { TenantNotFoundError } from '../tenants/errors.js';
import { deleteTenant } from '../tenants/repository.js';
import { readIngestState } from '../tenants/ingest-state.js';
import { requestResync } from '../tenants/resync.js';
import { ErrorSchema } from '../sync/schema.js';
import { dedupId } from '../../workers/scheduler.js';
import { getTenantSummary, listTenantSummaries, TenantSummarySchema } from './tenant-summary.js';
import { NAME_BODY_LIMIT, NO_BODY_LIMIT, TenantName } from './limits.js';

const uuid = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
const Params = Type.Object({ id: Type.String({ pattern: uuid }) });
const StatusAnswer = Type.Object({ id: Type.String(), status: Type.String() });
const errors = { '4xx': ErrorSchema, '5xx': ErrorSchema };
const NothingToResyncError = createError('NOTHING_TO_RESYNC', 'a tenant fed through the admin API has no CRM to resync from', 409);

/** Operators steer tenants: list and inspect them, rename, pause, resume, resync, delete. */
const tenantRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { deps } = app;

  const setStatus = async (id: string, status: (current: TenantStatus, backfilled: boolean) => TenantStatus) => {
    return deps.db.transaction(async (tx) => {
      const [tenant] = await tx.select().from(tenants).where(eq(tenants.id, id)).for('update');
      if (!tenant) throw new TenantNotFoundError(id);
      const next = status(tenant.status, tenant.backfillCompletedAt !== null);
      await tx.update(tenants).set({ status: next, updatedAt: sql`now()` }).where(eq(tenants.id, id));
      return { tenant, status: next };
    });
  };

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
      return { ...(await listTenantSummaries(deps.db, { limit, offset }, deps.queue)), limit, offset };
    },
  );

  app.get(
    '/tenants/:id',
    { schema: { summary: 'One tenant with its ingest state', params: Params, response: { 200: TenantSummarySchema, ...errors } } },
    async (request) => {
      const summary = await getTenantSummary(deps.db, request.params.id, deps.queue);
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
        params: Params,
        body: Type.Object({ name: TenantName }, { additionalProperties: false }),
        response: { 200: TenantSummarySchema, ...errors },
      },
    },
    async (request) => {
      const updated = await deps.db
        .update(tenants)
        .set({ name: request.body.name, updatedAt: sql`now()` })
        .where(eq(tenants.id, request.params.id))
        .returning({ id: tenants.id });
      if (updated.length === 0) throw new TenantNotFoundError(request.params.id);
      return (await getTenantSummary(deps.db, request.params.id, deps.queue))!;
    },
  );

  app.post(
    '/tenants/:id/pause',
    { bodyLimit: NO_BODY_LIMIT, schema: { summary: 'Stop ingesting a tenant (its mirror keeps being served)', params: Params, response: { 200: StatusAnswer, ...errors } } },
    async (request) => {
      const { status } = await setStatus(request.params.id, () => 'paused');
      // A running pass stops after its current page (it checks the status between pages).
      await deps.ingest?.deactivate(request.params.id).catch((err: Error) => request.log.warn({ err: err.message }, 'unschedule later'));
      return { id: request.params.id, status };
    },
  );

  app.post(
    '/tenants/:id/resume',
    { bodyLimit: NO_BODY_LIMIT, schema: { summary: 'Resume ingesting a paused tenant', params: Params, response: { 200: StatusAnswer, ...errors } } },
    async (request) => {
      const { tenant, status } = await setStatus(request.params.id, (current, backfilled) =>
        current === 'paused' ? (backfilled ? 'active' : 'backfilling') : current,
      );
      if (tenant.crm !== 'push') await activate(request.params.id, request.log);
      return { id: request.params.id, status };
    },
  );

  app.post(
    '/tenants/:id/resync',
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        summary: 'Backfill the tenant afresh; contacts the CRM no longer has are tombstoned when it completes',
        params: Params,
        response: { 200: StatusAnswer, ...errors },
      },
    },
    async (request) => {
      const id = request.params.id;
      const summary = await getTenantSummary(deps.db, id);
      if (!summary) throw new TenantNotFoundError(id);
      if (summary.crm === 'push') throw new NothingToResyncError();
      await readIngestState(deps.db, id);
      await requestResync(deps.db, id);
      if (summary.status === 'active' || summary.status === 'backfilling') await activate(id, request.log);
      return { id, status: summary.status };
    },
  );

  app.delete(
    '/tenants/:id',
    {
      bodyLimit: NO_BODY_LIMIT,
      schema: {
        summary: 'Delete a tenant: its schedule, jobs, contacts and credentials',
        params: Params,
        response: { 204: Type.Null(), ...errors },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      if (!(await deleteTenant(deps.db, id))) throw new TenantNotFoundError(id);
      // The row is gone, with its contacts, ingest state and encrypted credentials; a job still
      // running fails on its next page, since the writer finds no tenant.
      try {
        await deps.ingest?.deactivate(id);
        const jobId = await deps.queue?.getDeduplicationJobId(dedupId(id));
        if (jobId) await (await deps.queue!.getJob(jobId))?.remove().catch(() => {});
      } catch (err) {
        request.log.warn({ err: (err as Error).message, tenant: id }, 'queue cleanup deferred to the schedule reconciliation');
      }
      return reply.code(204).send(null);
    },
  );

  async function activate(id: string, log: { warn(o: object, m: string): void }) {
    try {
      await deps.ingest?.activate(id);
    } catch (err) {
      log.warn({ err: (err as Error).message, tenant: id }, 'the workers will schedule it when Redis answers');
    }
  }
};

export default tenantRoutes;
