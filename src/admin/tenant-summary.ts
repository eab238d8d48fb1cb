import { Type, type Static } from '@sinclair/typebox';
import type { Db } from '../db/client.js';
import { credentialStatuses, tenantStatuses, type Credential } from '../db/schema.js';
import { listCredentials } from '../tenants/credentials.js';
import { IngestJobViewSchema, type IngestControl } from '../ingest/control.js';
import { readTenantFigures, type TenantFigures } from '../tenants/figures.js';
import { countTenants, readTenantRecords, type TenantRecord } from '../tenants/repository.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Timestamp = Nullable(Type.String({ description: 'ISO 8601, microseconds' }));

/** One credential of a tenant (one Talkdesk copy), never its value. */
export const CredentialSummarySchema = Type.Object({
  id: Type.String(),
  label: Type.String({ description: "the auth's field names and a fingerprint of its digest" }),
  status: Type.Union(credentialStatuses.map((s) => Type.Literal(s))),
  allows: Type.Array(Type.String(), { description: 'what the CRM showed it may do when it was verified' }),
  failure: Nullable(Type.String()),
  created_at: Type.String(),
  verified_at: Timestamp,
  last_used_at: Timestamp,
  failed_at: Timestamp,
  deletions_reflected_at: Timestamp,
});
export type CredentialSummary = Static<typeof CredentialSummarySchema>;

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
  crm_budget_left: Type.Union([Type.Integer(), Type.Null()], { description: "requests left in the CRM's daily budget, as it last said (Pipedrive); null when it states none" }),
  crm_budget_low_since: Type.Union([Type.String(), Type.Null()], { description: 'since when polling has been slowed because the daily budget runs low; null: not slowed' }),
  job: Type.Union(
    [IngestJobViewSchema, Type.Null()],
    { description: 'the ingest job running or queued for this tenant, else the next scheduled tick' },
  ),
  credentials: Type.Array(CredentialSummarySchema, { description: 'every Talkdesk copy of this tenant, newest last; the workers use the newest that works' }),
  created_at: Type.String(),
});
export type TenantSummary = Static<typeof TenantSummarySchema>;

/** Tenths of a second, as PostgreSQL's round(…, 1) did: half away from zero. */
const tenths = (seconds: number) => Math.sign(seconds) * Math.round(Math.abs(seconds) * 10) / 10;

const credentialSummary = (c: Credential): CredentialSummary => ({
  id: c.id,
  label: c.label,
  status: c.status,
  allows: c.allows,
  failure: c.failure,
  created_at: isoUtc(c.createdAt)!,
  verified_at: isoUtc(c.verifiedAt),
  last_used_at: isoUtc(c.lastUsedAt),
  failed_at: isoUtc(c.failedAt),
  deletions_reflected_at: isoUtc(c.deletionsReflectedAt),
});

/** PostgreSQL's text form of a timestamptz (`2026-12-02 11:21:28.123456+00`) as ISO 8601, microseconds kept. */
export function isoUtc(value: string | null): string | null {
  if (value === null) return null;
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2})(?::?(\d{2}))?$/.exec(value);
  if (!m) return value;
  const offset = `${m[4]}:${m[5] ?? '00'}`;
  const at = new Date(`${m[1]}T${m[2]}${offset}`);
  return `${at.toISOString().slice(0, 19)}${(m[3] ?? '.').padEnd(7, '0')}Z`;
}

function toSummary(record: TenantRecord, figures: TenantFigures | undefined, job: TenantSummary['job'], credentials: Credential[]): TenantSummary {
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
    credentials: credentials.map(credentialSummary),
  };
}

/** The records with their figures (one statement for all of them) and their jobs. */
async function summarize(db: Db, records: TenantRecord[], ingest: IngestControl | null | undefined): Promise<TenantSummary[]> {
  const ids = records.map((r) => r.id);
  const [figureRows, credentialRows] = await Promise.all([readTenantFigures(db, { ids }), listCredentials(db, ids)]);
  const figures = new Map(figureRows.map((f) => [f.id, f]));
  const credentials = new Map<string, Credential[]>();
  for (const c of credentialRows) credentials.set(c.tenantId, [...(credentials.get(c.tenantId) ?? []), c]);
  return Promise.all(
    records.map(async (record) =>
      toSummary(record, figures.get(record.id), (await ingest?.jobOf(record.id)) ?? null, credentials.get(record.id) ?? []),
    ),
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
