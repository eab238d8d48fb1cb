import { RollingWindow, TEN_SECONDS_MS } from './rate-limit.js';

/** Requests by endpoint, then by HTTP status. */
export type StatusCounts = Record<string, Record<string, number>>;

export interface PortalStats {
  requests: number;
  byEndpoint: StatusCounts;
  /** 429s answered, from the real limits and injected alike. */
  rateLimited: number;
  /** The most requests that arrived within any rolling 10 s, every endpoint and outcome counted. */
  maxRequestsPerTenSeconds: number;
  /** The most requests that were being served at once. */
  maxInFlight: number;
  inFlight: number;
}

export interface SimStats {
  requests: number;
  byEndpoint: StatusCounts;
  rateLimited: number;
  /** Requests turned away with 401 (no portal to charge them to). */
  unauthenticated: number;
  portals: Record<string, PortalStats>;
}

class PortalCounter {
  stats: PortalStats = { requests: 0, byEndpoint: {}, rateLimited: 0, maxRequestsPerTenSeconds: 0, maxInFlight: 0, inFlight: 0 };
  readonly window = new RollingWindow(TEN_SECONDS_MS);
}

function bump(counts: StatusCounts, endpoint: string, status: number): void {
  const row = (counts[endpoint] ??= {});
  row[status] = (row[status] ?? 0) + 1;
}

/**
 * What the tests of a client want to know about its traffic: did it stay under the limits, how
 * parallel was it, how did it react to 429s.
 */
export class StatsRecorder {
  private totals = { requests: 0, byEndpoint: {} as StatusCounts, rateLimited: 0, unauthenticated: 0 };
  private readonly portals = new Map<number, PortalCounter>();

  constructor(private readonly clock: () => number) {}

  /** A request of this portal has arrived and is being served. */
  begin(portalId: number): void {
    const p = this.portal(portalId);
    p.stats.inFlight++;
    p.stats.maxInFlight = Math.max(p.stats.maxInFlight, p.stats.inFlight);
    p.stats.maxRequestsPerTenSeconds = Math.max(p.stats.maxRequestsPerTenSeconds, p.window.add(this.clock()));
  }

  /** Its response went out (or the client went away). */
  end(portalId: number): void {
    const p = this.portal(portalId);
    p.stats.inFlight = Math.max(0, p.stats.inFlight - 1);
  }

  record(portalId: number | undefined, endpoint: string, status: number): void {
    this.totals.requests++;
    bump(this.totals.byEndpoint, endpoint, status);
    if (status === 429) this.totals.rateLimited++;
    if (portalId === undefined) {
      if (status === 401) this.totals.unauthenticated++;
      return;
    }
    const p = this.portal(portalId).stats;
    p.requests++;
    bump(p.byEndpoint, endpoint, status);
    if (status === 429) p.rateLimited++;
  }

  snapshot(): SimStats {
    const portals: Record<string, PortalStats> = {};
    for (const [id, p] of this.portals) portals[id] = structuredClone(p.stats);
    return { ...structuredClone(this.totals), portals };
  }

  /** Zeroes the counters; requests still in flight stay counted as such. */
  reset(): void {
    this.totals = { requests: 0, byEndpoint: {}, rateLimited: 0, unauthenticated: 0 };
    for (const p of this.portals.values()) {
      const inFlight = p.stats.inFlight;
      p.stats = { requests: 0, byEndpoint: {}, rateLimited: 0, maxRequestsPerTenSeconds: 0, maxInFlight: inFlight, inFlight };
      p.window.clear();
    }
  }

  private portal(id: number): PortalCounter {
    let p = this.portals.get(id);
    if (!p) this.portals.set(id, (p = new PortalCounter()));
    return p;
  }
}
