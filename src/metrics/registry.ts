import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/client.js';
import { readTenantFigures, type TenantFigures } from '../tenants/figures.js';

export type SyncKind = 'initial' | 'incremental';
export type IngestResultLabel = 'inserted' | 'updated' | 'unchanged' | 'deleted';

/** Where the scrape-time gauges read from: the app hands them over (see plugins/metrics.ts). */
export interface MetricsSources {
  db?: Db;
  /** Ingest jobs by state; undefined when the queue does not answer. */
  jobCounts?: (states: readonly string[]) => Promise<Record<string, number> | undefined>;
}

export interface MetricsOptions {
  /**
   * How long the per-tenant figures are reused between scrapes. Counting a tenant's contacts is an
   * index-only scan, linear in its size: several Prometheus servers scraping every few seconds
   * must not turn that into a constant load on the primary.
   */
  tenantRefreshMs?: number;
  /** Bound on each scrape-time read (PostgreSQL, Redis), so a dead dependency never hangs a scrape. */
  collectTimeoutMs?: number;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
/** The figures statement's own bound: a scrape stops waiting after collectTimeoutMs, PostgreSQL would count on. */
const FIGURES_TIMEOUT_MS = 10_000;

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
  readonly crmDelayedSeconds = this.counter('bridge_crm_delayed_seconds_total', 'time ingest jobs were put off because the CRM rate-limited them');

  readonly queueJobs: Gauge<'state'>;
  readonly tenantIngestLag: Gauge<'tenant'>;
  readonly tenantContacts: Gauge<'tenant'>;

  private sources: MetricsSources = {};
  private readonly tenantRefreshMs: number;
  private readonly collectTimeoutMs: number;
  private tenantRead: { at: number; rows: Promise<TenantFigures[]> } | undefined;

  constructor(options: MetricsOptions = {}) {
    this.tenantRefreshMs = options.tenantRefreshMs ?? 30_000;
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
      // The lag keeps growing while the figures are reused.
      (row, age) => (row.lagSeconds === null ? null : Math.max(0, row.lagSeconds) + age),
    );
    this.tenantContacts = this.tenantGauge('bridge_tenant_contacts', 'live (not deleted) contacts in the mirror, by tenant', (row) => row.live);
  }

  private counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A per-tenant gauge of the figures; `age` is how many seconds ago they were read (they are reused for tenantRefreshMs). */
  private tenantGauge(name: string, help: string, valueOf: (row: TenantFigures, age: number) => number | null): Gauge<'tenant'> {
    const gauge: Gauge<'tenant'> = new Gauge({
      name,
      help,
      labelNames: ['tenant'] as const,
      registers: [this.registry],
      collect: async () => {
        const read = await this.tenantRows();
        gauge.reset();
        if (!read) return;
        const age = (performance.now() - read.at) / 1000;
        for (const row of read.rows) {
          const value = valueOf(row, age);
          if (value !== null) gauge.set({ tenant: row.id }, value);
        }
      },
    });
    return gauge;
  }

  /** Points the scrape-time gauges at the database and the ingest queue. */
  collectFrom(sources: MetricsSources): void {
    this.sources = sources;
    this.tenantRead = undefined;
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

  /**
   * Both per-tenant gauges come from one query, shared by concurrent collectors and reused for
   * tenantRefreshMs. Undefined when PostgreSQL does not answer: the series are then left out.
   */
  private async tenantRows(): Promise<{ at: number; rows: TenantFigures[] } | undefined> {
    const db = this.sources.db;
    if (!db) return undefined;
    const now = performance.now();
    if (!this.tenantRead || now - this.tenantRead.at >= this.tenantRefreshMs) {
      const rows = this.bounded(readTenantFigures(db, { timeoutMs: FIGURES_TIMEOUT_MS }));
      this.tenantRead = { at: now, rows };
      // A failed read is not cached: the next scrape tries again.
      rows.catch(() => {
        if (this.tenantRead?.rows === rows) this.tenantRead = undefined;
      });
    }
    const { at, rows } = this.tenantRead;
    return rows.then(
      (r) => ({ at, rows: r }),
      () => undefined,
    );
  }

  private bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.collectTimeoutMs} ms`)), this.collectTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }
}
