/**
 * Many Talkdesk synchronizers at once: `concurrency` virtual clients, each running whole contact
 * sync runs against `POST /contact_sync` over HTTP, one after another, until a deadline or a
 * number of runs. A run is the product's own client (src/cli/talkdesk-client.ts): it follows
 * `next_offset` page by page to the end, exactly as Talkdesk does, and keeps the last page's
 * checkpoint for that tenant's next incremental run.
 *
 *   const result = await runConcurrentSyncs({
 *     baseUrl: 'http://127.0.0.1:3000',
 *     tenants: [{ api_key: 'k-1' }, { api_key: 'k-2' }],
 *     concurrency: 50,
 *     durationMs: 10_000,
 *   });
 *   result.runsPerSecond, result.pageLatencyMs.p99, result.errors.total, result.shed.count
 *
 * Transport: node:http(s) with one keep-alive Agent sized to `concurrency`, so each virtual client
 * holds about one connection, as a real synchronizer does. Not undici: Node 20 ships it only
 * behind `fetch`, and importing the package would lean on a copy some other dependency happens to
 * install. Not autocannon: it replays fixed request templates and measures requests, whereas a run
 * must chain each page's offset into the next request and be timed as a whole; the per-page work
 * (one POST, read, JSON.parse) is what Talkdesk does, and that is what is measured.
 *
 * When the bridge runs in the same process, use `runConcurrentSyncsInWorker`: the same clients on
 * a thread of their own, so that neither side's event loop delays the other's (parsing a page
 * takes about as long as serializing it) and what is measured is the bridge.
 *
 * Latencies are exact quantiles over every sample (a sorted copy at the end): a few hundred
 * thousand numbers at most, so no histogram approximation is needed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { runSync, SyncAnswerError, SyncHttpError, type SyncResult } from '../../src/cli/talkdesk-client.js';
import { jsonPoster, posterSyncCall, RequestTimeout } from './http-post.js';

export type TenantAuth = Record<string, unknown>;

export interface ConcurrentSyncsOptions {
  /** The bridge's origin, e.g. `http://127.0.0.1:3000` (a path, if any, is replaced by `path`). */
  baseUrl: string | URL;
  /** The `auth` object of each tenant to sync. Client i syncs tenants i, i+concurrency, … in turn (tenant i % n when there are fewer tenants than clients). */
  tenants: readonly TenantAuth[];
  /** Virtual Talkdesk clients running at the same time. */
  concurrency: number;
  /** No run starts after this long; runs in flight finish. At least one of durationMs and runsPerClient is required. */
  durationMs?: number;
  /** Each client stops after this many runs (successful or not). */
  runsPerClient?: number;
  /**
   * The server's page size (its SYNC_PAGE_SIZE). The protocol has no way to ask for one, so it is
   * not sent; when given, a page with more contacts than this counts as an invalid answer.
   */
  pageSize?: number;
  /** The sync endpoint's path (SYNC_PATH). Default `/contact_sync`. */
  path?: string;
  /** Share of runs that are incremental (with the tenant's last checkpoint), 0–1. Default 0.5; a tenant with no checkpoint yet always gets a full run. */
  incrementalShare?: number;
  /** A page request taking longer than this is abandoned and counted as a timeout. Default 30,000 ms. */
  requestTimeoutMs?: number;
  /** After a 503, the client waits its Retry-After (as Talkdesk would), capped at this. Default 5,000 ms; 0 = retry at once. */
  maxRetryAfterWaitMs?: number;
  /** Seed of the full/incremental choice, so two runs of a benchmark make the same choices. Default 1. */
  seed?: number;
  /** Called after every page and every run, with the totals so far (cheap; throttle on your side). */
  onProgress?: (progress: SyncProgress) => void;
}

export interface SyncProgress {
  elapsedMs: number;
  runs: number;
  pages: number;
  contacts: number;
  errors: number;
  shed: number;
  timeouts: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface ConcurrentSyncsResult {
  concurrency: number;
  tenants: number;
  /** From the first request to the end of the last run in flight. */
  elapsedSeconds: number;
  runs: {
    /** Runs that reached their last page. */
    completed: number;
    full: number;
    incremental: number;
    /** Runs abandoned on an error, a 503 or a timeout. */
    failed: number;
  };
  /** Pages answered 200. */
  pages: number;
  contacts: number;
  runsPerSecond: number;
  pagesPerSecond: number;
  contactsPerSecond: number;
  /** Of pages answered 200, in milliseconds. */
  pageLatencyMs: LatencySummary;
  /** Of completed runs, first request to last answer, in milliseconds. */
  runLatencyMs: LatencySummary;
  /** Every HTTP status received, with its count. */
  statuses: Record<string, number>;
  errors: {
    /** Everything below, except 503s (they are `shed`) and timeouts. */
    total: number;
    /** Answers other than 200 and 503, by status. */
    byStatus: Record<string, number>;
    /** Connection failures (reset, refused…), by error code. */
    network: Record<string, number>;
    /** 200s that are not a protocol answer (no contacts array, bad next_offset, oversized page). */
    invalidAnswers: number;
  };
  /** 503s: the service refusing work it cannot take on now. */
  shed: { count: number; withRetryAfter: number; byError: Record<string, number> };
  /** Page requests abandoned after requestTimeoutMs. */
  timeouts: number;
}

/** Runs the clients to the end and returns what they measured. */
export async function runConcurrentSyncs(options: ConcurrentSyncsOptions): Promise<ConcurrentSyncsResult> {
  const { tenants, concurrency } = options;
  if (tenants.length === 0) throw new Error('runConcurrentSyncs: no tenants');
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('runConcurrentSyncs: concurrency must be a positive integer');
  if (options.durationMs === undefined && options.runsPerClient === undefined) {
    throw new Error('runConcurrentSyncs: give durationMs, runsPerClient or both, or it never ends');
  }
  const url = new URL(options.path ?? '/contact_sync', options.baseUrl);
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const maxRetryAfterWaitMs = options.maxRetryAfterWaitMs ?? 5_000;
  const incrementalShare = options.incrementalShare ?? 0.5;
  const poster = jsonPoster(url, { connections: concurrency, timeoutMs: requestTimeoutMs });

  const pageLatencies: number[] = [];
  const runLatencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errorsByStatus: Record<string, number> = {};
  const network: Record<string, number> = {};
  const shedByError: Record<string, number> = {};
  const totals = { completed: 0, full: 0, incremental: 0, failed: 0, pages: 0, contacts: 0, invalid: 0, shed: 0, shedWithRetryAfter: 0, timeouts: 0, errors: 0 };
  // Checkpoints per tenant index; a tenant belongs to one client unless there are fewer tenants than clients.
  const checkpoints = new Map<number, string>();

  const started = performance.now();
  const deadline = options.durationMs === undefined ? Infinity : started + options.durationMs;
  const progress = () =>
    options.onProgress?.({
      elapsedMs: performance.now() - started,
      runs: totals.completed,
      pages: totals.pages,
      contacts: totals.contacts,
      errors: totals.errors,
      shed: totals.shed,
      timeouts: totals.timeouts,
    });

  const call = posterSyncCall(poster, (answer) => {
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
  });

  /** One run; returns the milliseconds to wait before the next one (a 503's Retry-After). */
  async function syncRun(tenantIndex: number, random: () => number): Promise<number> {
    const held = checkpoints.get(tenantIndex);
    const checkpoint = held !== undefined && random() < incrementalShare ? held : undefined;
    let run: SyncResult;
    try {
      run = await runSync(call, {
        auth: tenants[tenantIndex]!,
        checkpoint,
        pageSize: options.pageSize,
        keepContacts: false,
        onPage: (page) => {
          pageLatencies.push(page.seconds * 1000);
          totals.pages++;
          totals.contacts += page.contacts.length;
          if (page.checkpoint !== null) checkpoints.set(tenantIndex, page.checkpoint);
          else if (page.last) checkpoints.delete(tenantIndex); // no checkpoint: the next run is a full one
          if (!page.last) progress();
        },
      });
    } catch (err) {
      const waitMs = countFailure(err);
      progress();
      return waitMs;
    }
    runLatencies.push(run.seconds * 1000);
    totals.completed++;
    if (checkpoint === undefined) totals.full++;
    else totals.incremental++;
    progress();
    return 0;
  }

  /** Counts a run abandoned on `err`; returns the milliseconds to wait before the next one. */
  function countFailure(err: unknown): number {
    totals.failed++;
    if (err instanceof SyncHttpError && err.status === 503) {
      totals.shed++;
      const code = errorCode(err.body);
      shedByError[code] = (shedByError[code] ?? 0) + 1;
      const retryAfter = err.headers['retry-after'];
      const seconds = retryAfter === undefined ? NaN : Number(retryAfter);
      if (Number.isFinite(seconds) && seconds >= 0) totals.shedWithRetryAfter++;
      return Math.min(maxRetryAfterWaitMs, Number.isFinite(seconds) ? seconds * 1000 : maxRetryAfterWaitMs);
    }
    if (err instanceof RequestTimeout) {
      totals.timeouts++;
      return 0;
    }
    totals.errors++;
    if (err instanceof SyncHttpError) errorsByStatus[err.status] = (errorsByStatus[err.status] ?? 0) + 1;
    else if (err instanceof SyncAnswerError) totals.invalid++;
    else {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).name;
      network[code] = (network[code] ?? 0) + 1;
    }
    return 0;
  }

  async function client(index: number): Promise<void> {
    const mine = tenants.length >= concurrency ? tenantsOf(index, concurrency, tenants.length) : [index % tenants.length];
    const random = prng((options.seed ?? 1) * 7919 + index);
    for (let run = 0; options.runsPerClient === undefined || run < options.runsPerClient; run++) {
      if (performance.now() >= deadline) return;
      const waitMs = await syncRun(mine[run % mine.length]!, random);
      const left = deadline - performance.now();
      if (waitMs > 0 && left > 0) await sleep(Math.min(waitMs, left));
    }
  }

  try {
    await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
  } finally {
    poster.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    concurrency,
    tenants: tenants.length,
    elapsedSeconds: seconds,
    runs: { completed: totals.completed, full: totals.full, incremental: totals.incremental, failed: totals.failed },
    pages: totals.pages,
    contacts: totals.contacts,
    runsPerSecond: totals.completed / seconds,
    pagesPerSecond: totals.pages / seconds,
    contactsPerSecond: totals.contacts / seconds,
    pageLatencyMs: summarize(pageLatencies),
    runLatencyMs: summarize(runLatencies),
    statuses,
    errors: { total: totals.errors, byStatus: errorsByStatus, network, invalidAnswers: totals.invalid },
    shed: { count: totals.shed, withRetryAfter: totals.shedWithRetryAfter, byError: shedByError },
    timeouts: totals.timeouts,
  };
}

function errorCode(body: unknown): string {
  const error = (body as { error?: unknown } | null | undefined)?.error;
  return typeof error === 'string' ? error : 'unknown';
}

function tenantsOf(client: number, clients: number, tenants: number): number[] {
  const mine: number[] = [];
  for (let t = client; t < tenants; t += clients) mine.push(t);
  return mine;
}

/** Nearest-rank quantiles over every sample. */
export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

/** mulberry32: a few lines, deterministic, good enough to pick full or incremental. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `runConcurrentSyncs` on a worker thread: the clients get an event loop of their own, so a bridge
 * in this process is not slowed by their parsing, nor are they by its work. `onProgress` is called
 * here, from the thread's reports (at most every 100 ms).
 */
export function runConcurrentSyncsInWorker(options: ConcurrentSyncsOptions): Promise<ConcurrentSyncsResult> {
  const { onProgress, ...rest } = options;
  const data: WorkerRequest = { [WORKER_MARK]: true, options: { ...rest, baseUrl: String(rest.baseUrl) } };
  // Under a TypeScript loader this module is the .ts source; built, it is the .js next to it.
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  return new Promise((resolve, reject) => {
    let settled = false;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'progress') onProgress?.(message.progress);
      else if (message.type === 'done') {
        settled = true;
        resolve(message.result);
      } else {
        settled = true;
        reject(new Error(`concurrent syncs worker: ${message.message}`));
      }
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`concurrent syncs worker exited with code ${code} before reporting`));
    });
  });
}

const WORKER_MARK = 'contactBridgeConcurrentSyncs';
type WorkerRequest = { [WORKER_MARK]: true; options: Omit<ConcurrentSyncsOptions, 'onProgress'> };
type WorkerMessage =
  | { type: 'progress'; progress: SyncProgress }
  | { type: 'done'; result: ConcurrentSyncsResult }
  | { type: 'failed'; message: string };

// This module is its own worker's entry point; imported anywhere else, this does nothing.
if (!isMainThread && parentPort && (workerData as Partial<WorkerRequest> | null)?.[WORKER_MARK]) {
  const port = parentPort;
  const { options } = workerData as WorkerRequest;
  let lastReport = 0;
  runConcurrentSyncs({
    ...options,
    onProgress: (progress) => {
      const now = performance.now();
      if (now - lastReport < 100) return;
      lastReport = now;
      port.postMessage({ type: 'progress', progress } satisfies WorkerMessage);
    },
  }).then(
    (result) => port.postMessage({ type: 'done', result } satisfies WorkerMessage),
    (err: unknown) => port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies WorkerMessage),
  );
}
