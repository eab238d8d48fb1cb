import { Type, type Static } from '@sinclair/typebox';
import type { Db } from '../db/client.js';
import { tenantStatuses } from '../db/schema.js';
import { IngestJobViewSchema, type IngestControl } from '../ingest/control.js';
import { readTenantFigures, type TenantFigures } from '../tenants/figures.js';
import { countTenants, readTenantRecords, type TenantRecord } from '../tenants/repository.js';

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
    [IngestJobViewSchema, Type.Null()],
    { description: 'the ingest job running or queued for this tenant, else the next scheduled tick' },
  ),
  created_at: Type.String(),
});
export type TenantSummary = Static<typeof TenantSummarySchema>;

/** Tenths of a second, as PostgreSQL's round(…, 1) did: half away from zero. */
const tenths = (seconds: number) => Math.sign(seconds) * Math.round(Math.abs(seconds) * 10) / 10;

function toSummary(record: TenantRecord, figures: TenantFigures | undefined, job: TenantSummary['job']): TenantSummary {
  const { backfill_pages, backfill_contacts, backfill_total, backfill_completed_at, ...rest } = record;
  const lag = figures?.lagSeconds ?? null;
  return {
    ...rest,
    contacts_live: figures?.live ?? 0,
    contacts_tombstoned: figures?.tombstoned ?? 0,
    ingest_lag_seconds: lag === null ? null : tenths(lag),
    backfill: {
      pages: backfill_pages ?? 0,
      contacts: backfill_contacts ?? 0,
      total: backfill_total,
      completed_at: backfill_completed_at,
    },
    job,
  };
}

/** The records with their figures (one statement for all of them) and their jobs. */
async function summarize(db: Db, records: TenantRecord[], ingest: IngestControl | null | undefined): Promise<TenantSummary[]> {
  const figures = new Map((await readTenantFigures(db, { ids: records.map((r) => r.id) })).map((f) => [f.id, f]));
  return Promise.all(
    records.map(async (record) => toSummary(record, figures.get(record.id), (await ingest?.jobOf(record.id)) ?? null)),
  );
}

export async function listTenantSummaries(
  db: Db,
  { limit, offset }: { limit: number; offset: number },
  ingest?: IngestControl | null,
): Promise<{ tenants: TenantSummary[]; total: number }> {
  const [records, total] = await Promise.all([readTenantRecords(db, { limit, offset }), countTenants(db)]);
  return { tenants: await summarize(db, records, ingest), total };
}

export async function getTenantSummary(db: Db, id: string, ingest?: IngestControl | null): Promise<TenantSummary | undefined> {
  const [summary] = await summarize(db, await readTenantRecords(db, { id }), ingest);
  return summary;
}
