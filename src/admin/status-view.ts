import type { TenantStatus } from '../db/schema.js';
import { PUSH_CRM } from '../tenants/lifecycle.js';
import type { TenantSummary } from './tenant-summary.js';

/** One line an operator can act on, next to each status, so nobody has to read the code. */
const statusMeanings: Record<TenantStatus, string> = {
  awaiting_approval: "its credentials verified; it waits for an operator's approval (ONBOARDING=approval), and syncs get 401 until then",
  backfilling: 'first copy of the CRM in progress; syncs get no checkpoint until it completes',
  active: 'mirrored and kept fresh by the ingest workers',
  paused: 'ingest stopped by an operator; syncs are still answered from the mirror',
  credentials_failed: 'the CRM refused every credential; syncs get 401 and ingest waits for credentials that verify (the last error says how; an OAuth connection: reconnect at /connect/hubspot)',
  token_expired:
    "its Talkdesk-managed OAuth token expired, as they do: expected, not a fault; syncs are answered from the mirror and ingest resumes with the next fresh token Talkdesk sends",
};

function meaning({ status, crm }: TenantSummary): string {
  // A pushed tenant has no workers: its mirror is whatever the admin API was given.
  return status === 'active' && crm === PUSH_CRM ? 'fed through the admin API; syncs are answered from the mirror' : statusMeanings[status];
}

/** "45 s", "12 min", "3 h 5 min", "2 d 4 h": precise enough to spot a stuck tenant at a glance. */
export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 24) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** A timestamp for the page: relative for reading, the exact instant kept for a tooltip. */
export interface When {
  iso: string;
  relative: string;
}

function when(iso: string | null, now: number): When | null {
  if (iso === null) return null;
  const delta = (now - Date.parse(iso)) / 1000;
  return { iso, relative: delta >= 0 ? `${humanDuration(delta)} ago` : `in ${humanDuration(-delta)}` };
}

export interface TenantRow {
  id: string;
  name: string;
  status: TenantStatus;
  meaning: string;
  crm: string;
  account: string | null;
  lag: string;
  live: number;
  tombstoned: number;
  backfill: string;
  backfillDone: boolean;
  lastError: string | null;
  lastErrorAt: When | null;
  lastSuccessAt: When | null;
  /** Why polling is slower than usual (a low daily budget), when it is. */
  slowed: string | null;
  job: string | null;
  jobNext: When | null;
  canPause: boolean;
  canResume: boolean;
  canResync: boolean;
  canApprove: boolean;
  /** One line per credential (Talkdesk copy): its label, status and last use; never its value. */
  credentials: Array<{ label: string; status: string; detail: string }>;
}

function backfillText({ backfill, crm }: TenantSummary, now: number): string {
  if (backfill.completed_at !== null) {
    return crm === PUSH_CRM ? 'not needed (pushed)' : `complete, ${when(backfill.completed_at, now)!.relative}`;
  }
  const contacts = backfill.contacts.toLocaleString('en-US');
  if (backfill.total !== null && backfill.total > 0) {
    const pct = Math.min(100, Math.floor((backfill.contacts / backfill.total) * 100));
    return `${pct} %: ${contacts} of ${backfill.total.toLocaleString('en-US')} contacts, ${backfill.pages} pages`;
  }
  return `${contacts} contacts, ${backfill.pages} pages so far`;
}

function jobText(job: TenantSummary['job']): string | null {
  if (!job) return null;
  const progress = job.progress as { pages?: unknown; contacts?: unknown } | null;
  const detail =
    progress && typeof progress === 'object' && typeof progress.pages === 'number'
      ? ` (${progress.pages} pages, ${Number(progress.contacts ?? 0).toLocaleString('en-US')} contacts)`
      : '';
  return `${job.kind}: ${job.state}${detail}`;
}

export function tenantRow(t: TenantSummary, now: number): TenantRow {
  return {
    id: t.id,
    name: t.name,
    status: t.status,
    meaning: meaning(t),
    crm: t.crm,
    account: t.crm_account_id,
    // Pushed tenants have no ingest, hence no lag to speak of.
    lag: t.ingest_lag_seconds === null ? 'n/a (pushed)' : humanDuration(t.ingest_lag_seconds),
    live: t.contacts_live,
    tombstoned: t.contacts_tombstoned,
    backfill: backfillText(t, now),
    backfillDone: t.backfill.completed_at !== null,
    lastError: t.last_error,
    lastErrorAt: when(t.last_error_at, now),
    lastSuccessAt: when(t.last_success_at, now),
    slowed:
      t.crm_budget_low_since === null
        ? null
        : `polling slowed: the CRM's daily budget is low (${(t.crm_budget_left ?? 0).toLocaleString('en-US')} requests left), since ${when(t.crm_budget_low_since, now)!.relative}`,
    job: jobText(t.job),
    jobNext: when(t.job?.next_run_at ?? null, now),
    canPause: t.status !== 'paused',
    canResume: t.status === 'paused',
    // A resync re-reads the CRM; a pushed tenant has none.
    canResync: t.crm !== PUSH_CRM,
    canApprove: t.status === 'awaiting_approval',
    credentials: t.credentials.map((c) => ({
      label: c.label,
      status: c.status,
      detail: [
        c.last_used_at ? `used ${when(c.last_used_at, now)!.relative}` : 'never used',
        c.status === 'expired' ? 'expired (a Talkdesk-managed OAuth token; Talkdesk sends a fresh one)' : null,
        c.failure ? `refused: ${c.failure}` : null,
      ]
        .filter(Boolean)
        .join('; '),
    })),
  };
}
