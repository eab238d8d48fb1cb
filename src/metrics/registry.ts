import { performance } from 'node:perf_hooks';
import type { Queue } from 'bullmq';
import { sql } from 'drizzle-orm';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/client.js';

export type SyncKind = 'initial' | 'incremental';
export type IngestResultLabel = 'inserted' | 'updated' | 'unchanged' | 'deleted';

/** Where the scrape-time gauges read from: the app hands them over (see plugins/metrics.ts). */
export interface MetricsSources {
  db?: Db;
  queue?: Pick<Queue, 'getJobCounts'>;
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

interface TenantRow {
  id: string;
  ingests: boolean;
  live: number;
  lagSeconds: number;
}

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

  readonly contactsServed = new Counter({
    name: 'bridge_contacts_served_total',
    help: 'contacts returned to Talkdesk by the sync endpoint',
    registers: [this.registry],
  });

  readonly syncRuns = new Counter({
    name: 'bridge_sync_runs_total',
    help: 'sync runs started (counted on their first page), by kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly syncPages = new Counter({
    name: 'bridge_sync_pages_total',
    help: 'sync pages served, by kind of run',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly ingestContacts = new Counter({
    name: 'bridge_ingest_contacts_total',
    help: 'contacts written to the mirror by ingest jobs, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly crmRequests = new Counter({
    name: 'bridge_crm_requests_total',
    help: 'CRM API answers, by endpoint and HTTP status (0 = no answer: timeout or network error)',
    labelNames: ['endpoint', 'status'] as const,
    registers: [this.registry],
  });

  readonly crmDelayedSeconds = new Counter({
    name: 'bridge_crm_delayed_seconds_total',
    help: 'time ingest jobs were put off because the CRM rate-limited them',
    registers: [this.registry],
  });

  readonly queueJobs: Gauge<'state'>;
  readonly tenantIngestLag: Gauge<'tenant'>;
  readonly tenantContacts: Gauge<'tenant'>;

  private sources: MetricsSources = {};
  private readonly tenantRefreshMs: number;
  private readonly collectTimeoutMs: number;
  private tenantRead: { at: number; rows: Promise<TenantRow[]> } | undefined;

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
        const queue = metrics.sources.queue;
        if (!queue) return;
        const counts = await metrics.bounded(queue.getJobCounts(...QUEUE_STATES)).catch(() => undefined);
        if (!counts) return;
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });

    this.tenantIngestLag = new Gauge({
      name: 'bridge_tenant_ingest_lag_seconds',
      help: "seconds since the tenant's last successful ingest pass (since its creation while none has succeeded); CRM tenants only",
      labelNames: ['tenant'] as const,
      registers: [this.registry],
      async collect() {
        const read = await metrics.tenantRows();
        this.reset();
        if (!read) return;
        // The rows may be reused from an earlier scrape; the lag keeps growing meanwhile.
        const age = (performance.now() - read.at) / 1000;
        for (const row of read.rows) if (row.ingests) this.set({ tenant: row.id }, row.lagSeconds + age);
      },
    });

    this.tenantContacts = new Gauge({
      name: 'bridge_tenant_contacts',
      help: 'live (not deleted) contacts in the mirror, by tenant',
      labelNames: ['tenant'] as const,
      registers: [this.registry],
      async collect() {
        const read = await metrics.tenantRows();
        this.reset();
        if (!read) return;
        for (const row of read.rows) this.set({ tenant: row.id }, row.live);
      },
    });
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
  private async tenantRows(): Promise<{ at: number; rows: TenantRow[] } | undefined> {
    const db = this.sources.db;
    if (!db) return undefined;
    const now = performance.now();
    if (!this.tenantRead || now - this.tenantRead.at >= this.tenantRefreshMs) {
      const rows = this.bounded(readTenantRows(db));
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

/**
 * Live contacts as "all keys minus tombstones": both counts are index-only scans (the sync-key
 * index and the partial tombstone index), where counting `deleted_at IS NULL` directly would
 * read every heap page. JIT is off because the planner's estimate for a large mirror switches it
 * on, and compiling costs more than the counting.
 */
async function readTenantRows(db: Db): Promise<TenantRow[]> {
  const res = await db.transaction(async (tx) => {
    await tx.execute(sql`SET LOCAL jit = off`);
    await tx.execute(sql`SET LOCAL statement_timeout = '10s'`);
    return tx.execute<{ id: string; ingests: boolean; live: string; lag_seconds: number }>(sql`
      SELECT t.id,
             t.crm <> 'push' AS ingests,
             (SELECT count(*) FROM contacts c WHERE c.tenant_id = t.id)
               - (SELECT count(*) FROM contacts c WHERE c.tenant_id = t.id AND c.deleted_at IS NOT NULL) AS live,
             extract(epoch FROM now() - coalesce(s.last_success_at, t.created_at))::float8 AS lag_seconds
      FROM tenants t
      LEFT JOIN ingest_state s ON s.tenant_id = t.id
    `);
  });
  return res.rows.map((r) => ({ id: r.id, ingests: r.ingests, live: Number(r.live), lagSeconds: Math.max(0, r.lag_seconds) }));
}
