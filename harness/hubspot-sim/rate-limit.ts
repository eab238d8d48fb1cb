/**
 * HubSpot's per-portal request limits. Both are rolling windows of request times: the
 * ten-secondly limit that every endpoint but search counts against (HubSpot's spec marks search
 * exempt), and search's own per-second limit.
 */

export interface RateLimits {
  /** Requests per rolling 10 s, all endpoints but search. HubSpot: 100 (Free/Starter) to 190 (Pro/Enterprise). */
  tenSecondly: number;
  /** Search requests per rolling second. HubSpot: 5. */
  searchPerSecond: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { tenSecondly: 100, searchPerSecond: 5 };
export const TEN_SECONDS_MS = 10_000;

/** Timestamps within the last `windowMs`, oldest first. */
export class RollingWindow {
  private times: number[] = [];
  private head = 0;

  constructor(readonly windowMs: number) {}

  count(now: number): number {
    const cutoff = now - this.windowMs;
    while (this.head < this.times.length && this.times[this.head]! <= cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  add(now: number): number {
    this.times.push(now);
    return this.count(now);
  }

  clear(): void {
    this.times = [];
    this.head = 0;
  }
}

export type LimitDecision =
  | { allowed: true; remaining: number }
  | { allowed: false; policy: 'TEN_SECONDLY_ROLLING' | 'SECONDLY'; remaining: 0 };

export class PortalRateLimiter {
  private readonly tenSecondly = new RollingWindow(TEN_SECONDS_MS);
  private readonly searchSecondly = new RollingWindow(1000);

  constructor(public limits: RateLimits) {}

  /**
   * Counts the request if it is within the limit. A refused request is not counted: HubSpot's
   * limit is on requests served, and a client that backs off properly recovers after the window.
   */
  admit(isSearch: boolean, now: number): LimitDecision {
    if (isSearch) {
      if (this.searchSecondly.count(now) >= this.limits.searchPerSecond) return { allowed: false, policy: 'SECONDLY', remaining: 0 };
      this.searchSecondly.add(now);
      return { allowed: true, remaining: this.remaining(now) };
    }
    if (this.tenSecondly.count(now) >= this.limits.tenSecondly) return { allowed: false, policy: 'TEN_SECONDLY_ROLLING', remaining: 0 };
    this.tenSecondly.add(now);
    return { allowed: true, remaining: this.remaining(now) };
  }

  remaining(now: number): number {
    return Math.max(0, this.limits.tenSecondly - this.tenSecondly.count(now));
  }

  reset(): void {
    this.tenSecondly.clear();
    this.searchSecondly.clear();
  }
}
