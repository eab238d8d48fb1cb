import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { readTenantFigures } from '../tenants/figures.js';
import type { Metrics } from './registry.js';

export interface TenantFiguresSchedule {
  /** Computes the figures now, unless a computation is already running (then waits for that one). */
  refresh(): Promise<void>;
  /** No further computation; waits for a running one (bounded by its statement timeout). */
  stop(): Promise<void>;
}

/**
 * Computes the per-tenant figures of the metrics every `metrics.tenantRefreshMs` (now, then that
 * long after each computation ends, so two never overlap), in one statement bounded by
 * `metrics.tenantTimeoutMs`. A scrape reads the last result and never queries: before, each
 * scrape counted every tenant's contacts, so anyone who could reach /metrics decided how often
 * PostgreSQL did that, and a scrape that gave up waiting left the statement running.
 * A failure is counted and logged once per streak; the last figures are served until
 * registry.ts deems them stale.
 */
export function startTenantFiguresSchedule({ db, metrics, log }: { db: Db; metrics: Metrics; log: Logger }): TenantFiguresSchedule {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let failing = false;

  const compute = async () => {
    const startedAt = performance.now();
    try {
      const rows = await readTenantFigures(db, { timeoutMs: metrics.tenantTimeoutMs });
      // Stamped with the statement's start: the lag it read was measured then.
      metrics.recordTenantFigures(rows, startedAt);
      metrics.tenantFiguresRefreshes.inc({ result: 'ok' });
      if (failing) log.info({ tenants: rows.length }, 'per-tenant metrics computed again');
      failing = false;
    } catch (err) {
      metrics.tenantFiguresRefreshes.inc({ result: 'error' });
      if (!failing) log.warn({ err: rootMessage(err) }, 'per-tenant metrics could not be computed; the last figures are served until stale');
      failing = true;
    }
  };

  const refresh = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (!running) {
      clearTimeout(timer);
      running = compute().finally(() => {
        running = undefined;
        if (stopped) return;
        timer = setTimeout(() => void refresh(), metrics.tenantRefreshMs);
        // A schedule never keeps the process alive.
        timer.unref();
      });
    }
    return running;
  };

  void refresh();
  return {
    refresh,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** PostgreSQL's own words ("canceling statement due to statement timeout"), not drizzle's wrapper quoting the whole statement. */
function rootMessage(err: unknown): string {
  let e = err as { message?: unknown; cause?: unknown } | undefined;
  while (e?.cause instanceof Error) e = e.cause;
  return String(e?.message ?? err);
}
