import type pg from 'pg';
import type { Key } from './cursor.js';
import type { PageResult } from './page-query.js';

/** What became of a page asked for with an offset: read ahead and taken, or read on request. */
export type ReadAheadOutcome = 'hit' | 'miss';

export interface ReadAheadOptions {
  /** How long a page read ahead waits for its request; a run that stops leaves it to expire. */
  ttlMs?: number;
  /** Pages held or being read at once, across tenants: at the default page size about 0.8 MB each. */
  maxPages?: number;
  now?: () => number;
}

interface Held {
  page: Promise<PageResult | undefined>;
  expires: number;
}

/**
 * A run's next page, read while Talkdesk is still receiving and parsing the one just served.
 * Talkdesk asks for pages one after another, each with the offset of the last, so a full sync is
 * the server's page time plus the client's, page after page; reading the next page as the current
 * one is sent overlaps the two (docs/benchmarks.md measures both ways).
 *
 * Why a page read a little early is still a correct page (shared/DESIGN.md): it starts where the
 * offset says, as the request would, and every write committed after it was read has a larger key
 * than anything it holds, so a later page or the next run delivers that write. On a run's last
 * page the newest key comes from the same earlier snapshot: the checkpoint is then, if anything,
 * smaller, and the next run re-reads a little more. A page is taken once; one no request claims
 * expires. Only this process's next request can take it: another instance reads the page itself.
 *
 * Reading ahead never competes with requests for the pool: it is skipped while any request waits
 * for a connection, or when every connection is busy.
 */
export class ReadAhead {
  private readonly held = new Map<string, Held>();
  private readonly ttlMs: number;
  private readonly maxPages: number;
  private readonly now: () => number;

  constructor(
    private readonly pool: pg.Pool,
    options: ReadAheadOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.maxPages = options.maxPages ?? 16;
    this.now = options.now ?? Date.now;
  }

  /** Starts reading the page after `after`, unless the pool is busy or enough pages are held. */
  start(tenantId: string, after: Key, pageSize: number, read: () => Promise<PageResult>): void {
    this.dropExpired();
    if (this.held.size >= this.maxPages || !this.poolHasRoom()) return;
    // A failed read ahead is not an error: the request reads the page itself (and reports why).
    const page = read().catch(() => undefined);
    this.held.set(keyOf(tenantId, after, pageSize), { page, expires: this.now() + this.ttlMs });
  }

  /** The page read ahead for this request, once; undefined when there is none (or it failed). */
  async take(tenantId: string, after: Key, pageSize: number): Promise<PageResult | undefined> {
    const key = keyOf(tenantId, after, pageSize);
    const held = this.held.get(key);
    if (!held) return undefined;
    this.held.delete(key);
    if (held.expires < this.now()) return undefined;
    return held.page;
  }

  /** Waits for every read under way: on close, so none outlives the pool; in tests, to order a write after a read. */
  async settle(): Promise<void> {
    await Promise.all([...this.held.values()].map((held) => held.page));
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [key, held] of this.held) if (held.expires < now) this.held.delete(key);
  }

  private poolHasRoom(): boolean {
    const { waitingCount, idleCount, totalCount } = this.pool;
    const max = (this.pool.options as { max?: number }).max ?? 10;
    return waitingCount === 0 && (idleCount > 0 || totalCount < max);
  }
}

const keyOf = (tenantId: string, after: Key, pageSize: number) => `${tenantId}\u0000${after.us}\u0000${after.id}\u0000${pageSize}`;
