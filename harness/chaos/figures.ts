/** The faults the chaos run injects. */
export const FAULT_KINDS = ['worker-kill', 'postgres-restart', 'redis-restart', 'crm-429', 'crm-5xx', 'crm-delay'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface CrmWriteCounts {
  creates: number;
  edits: number;
  /** Edits that change no value (HubSpot still moves lastmodifieddate). */
  noopEdits: number;
  /** Edits that empty fields ('' or null). */
  blankingEdits: number;
  /** Edits of many contacts at one instant, and the contacts they touched. */
  bulkEdits: number;
  bulkEdited: number;
  archivals: number;
  /** Contacts merged into another (the loser's id is listed nowhere after it, only in the survivor's hs_merged_object_ids). */
  merges: number;
}

export interface SyncCounts {
  runs: number;
  full: number;
  incremental: number;
  pages: number;
  overHttp: number;
  inProcess: number;
  smallPages: number;
  /** Runs that failed part-way (Talkdesk discards them and retries), by status and error code. */
  failed: Record<string, number>;
}

export interface Mismatches {
  missing: number;
  stale: number;
  deletedButPresent: number;
  /** A few ids of each, to start the investigation from. */
  examples: string[];
}

/** What a chaos run did and found; the run passed when `problems(figures)` is empty. */
export interface Figures {
  seed: number;
  rounds: number;
  tenants: number;
  workers: number;
  crm: CrmWriteCounts;
  sync: SyncCounts;
  faults: Record<FaultKind, number>;
  /** What the simulated HubSpot actually answered: 429s and 5xx (injected ones and its own limits). */
  crmFaultAnswers: { rateLimited: number; serverErrors: number };
  /** Worker processes that exited without being killed by the run: crashes. */
  workerCrashes: number;
  /** Seconds from "edits stop, faults clear" to the mirror equal to the CRM; null when it never got there. */
  catchUpSeconds: number | null;
  /**
   * After Talkdesk's next run once ingest caught up, before any deletion-driven full run: what
   * incremental runs skipped since the last full one would show here. `incremental` counts the
   * accounts whose run was incremental (the others had no checkpoint to send).
   */
  afterIncremental: { incremental: number; missing: number; stale: number; examples: string[] };
  /** Live CRM contacts compared with Talkdesk's copies at the end. */
  compared: number;
  mismatches: Mismatches;
  durationSeconds: number;
}

/**
 * Sync failures a client can expect during the injected outages: PostgreSQL unreachable is a 503
 * with Retry-After. Anything else (a 500, a 4xx for a valid request, a dropped connection) is a bug.
 */
const EXPECTED_FAILURE = /^503 /;

/** Why the run failed; empty when it passed. */
export function problems(f: Figures): string[] {
  const out: string[] = [];
  const { missing, stale, deletedButPresent } = f.mismatches;
  if (missing + stale + deletedButPresent > 0) {
    out.push(`Talkdesk differs from the CRM: ${missing} missing, ${stale} stale, ${deletedButPresent} deleted but present (${f.mismatches.examples.join(', ')})`);
  }
  if (f.afterIncremental.missing + f.afterIncremental.stale > 0) {
    out.push(
      `after the last incremental run Talkdesk lacked ${f.afterIncremental.missing} and held ${f.afterIncremental.stale} stale contacts (${f.afterIncremental.examples.join(', ')})`,
    );
  }
  if (f.catchUpSeconds === null) out.push('ingest never caught up with the CRM once edits stopped and faults cleared');
  if (f.workerCrashes > 0) out.push(`${f.workerCrashes} worker process(es) exited without being killed`);
  for (const [what, n] of Object.entries(f.sync.failed)) {
    if (!EXPECTED_FAILURE.test(what)) out.push(`${n} sync run(s) failed with ${what}`);
  }
  return out;
}

const num = (n: number) => n.toLocaleString('en-US');

/** The figures as a Markdown table (the script prints it and writes it to docs/chaos.md). */
export function figuresTable(f: Figures): string {
  const failed = Object.entries(f.sync.failed).map(([what, n]) => `${num(n)} × ${what}`).join('; ') || 'none';
  const rows: Array<[string, string]> = [
    ['seed (`CHAOS_SEED`)', String(f.seed)],
    ['rounds', num(f.rounds)],
    ['tenants (HubSpot portals and the Pipedrive company) / worker processes', `${f.tenants} / ${f.workers}`],
    ['CRM creates', num(f.crm.creates)],
    ['CRM edits (field changes)', num(f.crm.edits)],
    ['CRM edits that change nothing', num(f.crm.noopEdits)],
    ['CRM edits that empty fields', num(f.crm.blankingEdits)],
    ['CRM bulk edits at one timestamp (contacts)', `${num(f.crm.bulkEdits)} (${num(f.crm.bulkEdited)})`],
    ['CRM archivals', num(f.crm.archivals)],
    ['CRM merges', num(f.crm.merges)],
    ['sync runs: full / incremental', `${num(f.sync.runs)}: ${num(f.sync.full)} / ${num(f.sync.incremental)}`],
    ['sync runs: over HTTP / in-process; with small pages', `${num(f.sync.overHttp)} / ${num(f.sync.inProcess)}; ${num(f.sync.smallPages)}`],
    ['sync pages', num(f.sync.pages)],
    ['sync runs failed part-way (discarded, as Talkdesk does)', failed],
    ...FAULT_KINDS.map((k): [string, string] => [`faults: ${k}`, num(f.faults[k])]),
    ['HubSpot answers: 429 / 5xx', `${num(f.crmFaultAnswers.rateLimited)} / ${num(f.crmFaultAnswers.serverErrors)}`],
    ['worker crashes (exits not caused by the run)', num(f.workerCrashes)],
    ['ingest caught up after edits stopped', f.catchUpSeconds === null ? 'never' : `${f.catchUpSeconds.toFixed(1)} s`],
    [
      'after the next run (incremental for ' + `${f.afterIncremental.incremental} of ${f.tenants} tenants): missing / stale`,
      `${f.afterIncremental.missing} / ${f.afterIncremental.stale}`,
    ],
    ['contacts compared at the end, field for field', num(f.compared)],
    ['missing / stale / deleted-but-present', `${f.mismatches.missing} / ${f.mismatches.stale} / ${f.mismatches.deletedButPresent}`],
    ['duration', `${f.durationSeconds.toFixed(0)} s`],
  ];
  return ['| figure | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
}

export function emptyFigures(seed: number, rounds: number, tenants: number, workers: number): Figures {
  return {
    seed,
    rounds,
    tenants,
    workers,
    crm: { creates: 0, edits: 0, noopEdits: 0, blankingEdits: 0, bulkEdits: 0, bulkEdited: 0, archivals: 0, merges: 0 },
    sync: { runs: 0, full: 0, incremental: 0, pages: 0, overHttp: 0, inProcess: 0, smallPages: 0, failed: {} },
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
    crmFaultAnswers: { rateLimited: 0, serverErrors: 0 },
    workerCrashes: 0,
    catchUpSeconds: null,
    afterIncremental: { incremental: 0, missing: 0, stale: 0, examples: [] },
    compared: 0,
    mismatches: { missing: 0, stale: 0, deletedButPresent: 0, examples: [] },
    durationSeconds: 0,
  };
}
