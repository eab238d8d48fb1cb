import { Type, type Static } from '@sinclair/typebox';
import { sql } from 'drizzle-orm';
import type { Queue } from 'bullmq';
import type { Executor } from '../db/client.js';
import { tenantStatuses } from '../db/schema.js';
import type { IngestJob, IngestResult } from '../../workers/queues.js';
import { dedupId } from '../../workers/scheduler.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Timestamp = Nullable(Type.String({ description: 'ISO 8601, microseconds' }));

/** What an operator needs to know about one tenant, without reading logs. */
export const TenantSummarySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: Type.Union(tenantStatuses.map((s) => Type.Literal(s))),
  crm: Type.String(),
  crm_account_id: Nullable(Type.String()),
  contacts_live: Type.Integer(),
  contacts_tombstoned: Type.Integer(),
  last_change_at: Timestamp,
  last_success_at: Timestamp,
  ingest_lag_seconds: Type.Union([Type.Number(), Type.Null()], {
    description: 'seconds since the last successful ingest pass (since creation while none has succeeded); null for pushed tenants',
  }),
  last_error: Nullable(Type.String()),
  last_error_at: Timestamp,
  backfill: Type.Object({
    pages: Type.Integer(),
    contacts: Type.Integer(),
    total: Type.Union([Type.Integer(), Type.Null()]),
    completed_at: Timestamp,
  }),
  last_reconcile_at: Timestamp,
  last_deletion_resync_at: Timestamp,
  job: Type.Union(
    [
      Type.Object({
        id: Type.String(),
        kind: Type.String(),
        state: Type.String({ description: 'waiting, active, delayed, …' }),
        progress: Type.Unknown(),
        next_run_at: Timestamp,
      }),
      Type.Null(),
    ],
    { description: 'the ingest job running or queued for this tenant, else the next scheduled tick' },
  ),
  created_at: Type.String(),
});
export type TenantSummary = Static<typeof TenantSummarySchema>;

type Row = Omit<TenantSummary, 'job' | 'backfill'> & {
  backfill_pages: number | null;
  backfill_contacts: number | null;
  backfill_total: number | null;
  backfill_completed_at: string | null;
};

const iso = (column: string) => sql.raw(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);

function summaryQuery(where: ReturnType<typeof sql>, limit: number, offset: number) {
  return sql`
    SELECT t.id, t.name, t.status, t.crm, t.crm_account_id,
           coalesce(c.live, 0)::int AS contacts_live, coalesce(c.dead, 0)::int AS contacts_tombstoned,
           CASE WHEN t.last_change_at = '-infinity' THEN NULL ELSE ${iso('t.last_change_at')} END AS last_change_at,
           ${iso('s.last_success_at')} AS last_success_at,
           CASE WHEN t.crm = 'push' THEN NULL
                ELSE round(extract(epoch FROM now() - coalesce(s.last_success_at, t.created_at))::numeric, 1)::float8 END
             AS ingest_lag_seconds,
           s.last_error, ${iso('s.last_error_at')} AS last_error_at,
           s.backfill_pages, s.backfill_contacts, s.backfill_total, ${iso('t.backfill_completed_at')} AS backfill_completed_at,
           ${iso('s.last_reconcile_at')} AS last_reconcile_at,
           ${iso('t.last_deletion_resync_at')} AS last_deletion_resync_at,
           ${iso('t.created_at')} AS created_at
    FROM tenants t
    LEFT JOIN ingest_state s ON s.tenant_id = t.id
    LEFT JOIN LATERAL (
      SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS live, count(*) FILTER (WHERE deleted_at IS NOT NULL) AS dead
      FROM contacts WHERE tenant_id = t.id
    ) c ON true
    ${where}
    ORDER BY t.created_at, t.id
    LIMIT ${limit} OFFSET ${offset}`;
}

function toSummary(row: Row): TenantSummary {
  const { backfill_pages, backfill_contacts, backfill_total, backfill_completed_at, ...rest } = row;
  return {
    ...rest,
    backfill: {
      pages: backfill_pages ?? 0,
      contacts: backfill_contacts ?? 0,
      total: backfill_total,
      completed_at: backfill_completed_at,
    },
    job: null,
  };
}

export async function listTenantSummaries(
  db: Executor,
  { limit, offset }: { limit: number; offset: number },
  queue?: Queue<IngestJob, IngestResult>,
): Promise<{ tenants: TenantSummary[]; total: number }> {
  const [rows, count] = await Promise.all([
    db.execute<Row>(summaryQuery(sql``, limit, offset)),
    db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM tenants`),
  ]);
  const tenants = rows.rows.map(toSummary);
  await Promise.all(tenants.map(async (t) => (t.job = await currentJob(queue, t.id))));
  return { tenants, total: count.rows[0]!.n };
}

export async function getTenantSummary(
  db: Executor,
  id: string,
  queue?: Queue<IngestJob, IngestResult>,
): Promise<TenantSummary | undefined> {
  const { rows } = await db.execute<Row>(summaryQuery(sql`WHERE t.id = ${id}`, 1, 0));
  if (!rows[0]) return undefined;
  const summary = toSummary(rows[0]);
  summary.job = await currentJob(queue, id);
  return summary;
}

/** The tenant's ingest job (deduplicated, so at most one), else its scheduler's next tick. Redis down: null. */
async function currentJob(queue: Queue<IngestJob, IngestResult> | undefined, tenantId: string): Promise<TenantSummary['job']> {
  if (!queue) return null;
  try {
    const jobId = await queue.getDeduplicationJobId(dedupId(tenantId));
    const job = jobId ? await queue.getJob(jobId) : undefined;
    if (job) {
      const state = await job.getState();
      const next = state === 'delayed' ? new Date(job.timestamp + (job.delay ?? 0)).toISOString() : null;
      return { id: job.id ?? jobId!, kind: job.data.kind, state, progress: job.progress ?? null, next_run_at: next };
    }
    const scheduler = await queue.getJobScheduler(`tick:${tenantId}`);
    if (scheduler?.next) {
      return { id: `tick:${tenantId}`, kind: 'tick', state: 'scheduled', progress: null, next_run_at: new Date(scheduler.next).toISOString() };
    }
  } catch {
    // The queue is unreachable: the rest of the summary comes from PostgreSQL and still stands.
  }
  return null;
}
