import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TenantFigures } from '../tenants/figures.js';

export type SyncKind = 'initial' | 'incremental';
export type IngestResultLabel = 'inserted' | 'updated' | 'unchanged' | 'deleted';

/** Where the scrape-time gauges read from: the app hands them over (see plugins/metrics.ts). */
export interface MetricsSources {
  /** Ingest jobs by state; undefined when the queue does not answer. */
  jobCounts?: (states: readonly string[]) => Promise<Record<string, number> | undefined>;
}

export interface MetricsOptions {
  /**
   * How often the per-tenant figures are computed (metrics/tenant-figures-schedule.ts); a scrape
   * only reads the last ones. Counting a tenant's contacts is an index-only scan, linear in its
   * size: scrapes, however many and however frequent, must not turn that into load on the primary.
   */
  tenantRefreshMs?: number;
  /** The statement timeout of each computation. */
  tenantTimeoutMs?: number;
  /** Bound on each scrape-time read (Redis), so a dead dependency never hangs a scrape. */
  collectTimeoutMs?: number;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
/**
 * Figures older than this many refresh cycles (each at most one interval plus one statement
 * timeout: 3 × 40 s by default) are no longer served. While computations succeed the figures are
 * never older than two cycles; past three, two computations in a row failed or timed out, a
 * tenant's size and lag would be a guess, and a series that went missing alerts better than a
 * number that stopped moving.
 */
const STALE_AFTER_CYCLES = 3;

/**
 * Every metric the bridge exports, on a registry of its own: two apps (or tests) in one process
 * never collide, and the server hands one instance to both the API and the workers.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });

  readonly contactsServed = this.counter('bridge_contacts_served_total', 'contacts returned to Talkdesk by the sync endpoint');
  readonly syncRuns = this.counter('bridge_sync_runs_total', 'sync runs started (counted on their first page), by kind', ['kind']);
  readonly syncPages = this.counter('bridge_sync_pages_total', 'sync pages served, by kind of run', ['kind']);
  readonly ingestContacts = this.counter('bridge_ingest_contacts_total', 'contacts written to the mirror by ingest jobs, by result', ['result']);
  readonly crmRequests = this.counter(
    'bridge_crm_requests_total',
    'CRM API answers, by endpoint and HTTP status (0 = no answer: timeout or network error)',
    ['endpoint', 'status'],
  );
  readonly syncReadAhead = this.counter(
    'bridge_sync_read_ahead_total',
    "sync pages asked for with an offset: 'hit' had been read while the previous page was sent, 'miss' was read on request",
    ['result'],
  );
  readonly webhookEvents = this.counter(
    'bridge_webhook_events_total',
    "CRM webhook events in signed deliveries, by CRM and result ('queued', or 'unknown_account': no tenant here, dropped)",
    ['crm', 'result'],
  );
  readonly webhookRefused = this.counter(
    'bridge_webhook_requests_refused_total',
    'webhook deliveries refused before reading their events, by CRM and reason (a forged or stale signature, a body too large)',
    ['crm', 'reason'],
  );
  readonly crmDelayedSeconds = this.counter('bridge_crm_delayed_seconds_total', 'time ingest jobs were put off because the CRM rate-limited them');

  readonly tenantFiguresRefreshes = this.counter(
    'bridge_tenant_figures_refreshes_total',
    'computations of the per-tenant figures, by result (error: failed or over its statement timeout)',
    ['result'],
  );

  readonly crmBudgetRemaining = new Gauge({
    name: 'bridge_crm_budget_remaining',
    help: "requests left in the CRM's daily budget of the tenant's account, as the CRM last said (Pipedrive); set by the worker that ingests it",
    labelNames: ['tenant'] as const,
    registers: [this.registry],
  });

  readonly queueJobs: Gauge<'state'>;
  readonly tenantIngestLag: Gauge<'tenant'>;
  readonly tenantContacts: Gauge<'tenant'>;
  readonly tenantFiguresComputed = new Gauge({
    name: 'bridge_tenant_figures_computed_timestamp_seconds',
    help: 'when the per-tenant figures being served were computed (Unix time; 0 = never); stale ones are not served',
    registers: [this.registry],
  });

  readonly tenantRefreshMs: number;
  readonly tenantTimeoutMs: number;
  private sources: MetricsSources = {};
  private readonly collectTimeoutMs: number;
  /** The last figures computed, and when (performance.now()). */
  private tenantFigures: { at: number; rows: readonly TenantFigures[] } | undefined;
  private readonly tenantStaleMs: number;

  constructor(options: MetricsOptions = {}) {
    this.tenantRefreshMs = options.tenantRefreshMs ?? 30_000;
    this.tenantTimeoutMs = options.tenantTimeoutMs ?? 10_000;
    if (!(this.tenantRefreshMs > 0 && this.tenantTimeoutMs > 0)) throw new RangeError('tenantRefreshMs and tenantTimeoutMs must be positive');
    this.tenantStaleMs = STALE_AFTER_CYCLES * (this.tenantRefreshMs + this.tenantTimeoutMs);
    this.collectTimeoutMs = options.collectTimeoutMs ?? 2_000;
    collectDefaultMetrics({ register: this.registry });
    // prom-client calls collect() with `this` bound to the gauge; the gauges read this instance's sources.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const metrics = this;

    this.queueJobs = new Gauge({
      name: 'bridge_queue_jobs',
      help: 'jobs in the ingest queue, by state (read from Redis at scrape time)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      async collect() {
        // Stale counts would mislead more than none: without an answer the series disappear.
        this.reset();
        const jobCounts = metrics.sources.jobCounts;
        if (!jobCounts) return;
        const counts = await metrics.bounded(jobCounts(QUEUE_STATES)).catch(() => undefined);
        if (!counts) return;
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });

    this.tenantIngestLag = this.tenantGauge(
      'bridge_tenant_ingest_lag_seconds',
      "seconds since the tenant's last successful ingest pass (since its creation while none has succeeded); CRM tenants only",
      // The lag keeps growing between computations.
      (row, age) => (row.lagSeconds === null ? null : Math.max(0, row.lagSeconds) + age),
    );
    this.tenantContacts = this.tenantGauge('bridge_tenant_contacts', 'live (not deleted) contacts in the mirror, by tenant', (row) => row.live);
  }

  private counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A per-tenant gauge of the last computed figures, never a query: `age` is how many seconds ago
   * they were computed. Left out once they are stale (or before the first computation).
   */
  private tenantGauge(name: string, help: string, valueOf: (row: TenantFigures, age: number) => number | null): Gauge<'tenant'> {
    const gauge: Gauge<'tenant'> = new Gauge({
      name,
      help,
      labelNames: ['tenant'] as const,
      registers: [this.registry],
      collect: () => {
        gauge.reset();
        const age = this.tenantFiguresAgeSeconds();
        if (age === undefined || age * 1000 > this.tenantStaleMs) return;
        for (const row of this.tenantFigures!.rows) {
          const value = valueOf(row, age);
          if (value !== null) gauge.set({ tenant: row.id }, value);
        }
      },
    });
    return gauge;
  }

  /** Points the scrape-time gauges at the ingest queue. */
  collectFrom(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** Figures just computed (by the schedule); scrapes serve them until newer ones or until they are stale. */
  recordTenantFigures(rows: readonly TenantFigures[], at = performance.now()): void {
    this.tenantFigures = { at, rows };
    this.tenantFiguresComputed.set((Date.now() - (performance.now() - at)) / 1000);
  }

  private tenantFiguresAgeSeconds(): number | undefined {
    return this.tenantFigures && (performance.now() - this.tenantFigures.at) / 1000;
  }

  /** One served sync page; a page asked for without an offset starts a run. */
  countSyncPage(kind: SyncKind, contacts: number, firstOfRun: boolean): void {
    this.contactsServed.inc(contacts);
    this.syncPages.inc({ kind });
    if (firstOfRun) this.syncRuns.inc({ kind });
  }

  /** One page written by an ingest job. */
  countIngestPage(counts: Record<IngestResultLabel, number>): void {
    for (const result of ['inserted', 'updated', 'unchanged', 'deleted'] as const) {
      if (counts[result] > 0) this.ingestContacts.inc({ result }, counts[result]);
    }
  }

  /** The CRM client's onResponse hook (bound, so it can be passed as is). */
  readonly countCrmResponse = (endpoint: string, status: number): void => {
    this.crmRequests.inc({ endpoint, status: String(status) });
  };

  countCrmDelay(ms: number): void {
    this.crmDelayedSeconds.inc(ms / 1000);
  }

  /** The exposition text for GET /metrics. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.collectTimeoutMs} ms`)), this.collectTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
