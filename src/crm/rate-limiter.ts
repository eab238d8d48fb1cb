import { setTimeout as sleep } from 'node:timers/promises';
import { CrmRateLimitedError } from './errors.js';

export interface RateWindow {
  /** Requests allowed in any rolling window of `ms`. */
  limit: number;
  ms: number;
}

/** One key's windows: a request that must fit several budgets at once names each of them. */
export interface RateBudget {
  key: string;
  windows: readonly RateWindow[];
}

/**
 * A rolling-window limiter per key (a CRM account; a token whose account is not known yet; a cap
 * shared by many), enforced on our side so that an ingest stays under the CRM's limits instead
 * of learning them from 429s. It keeps the time of every request in the longest window, per key,
 * per window set; `acquire` waits until one more request fits every window, `acquireAll` until it
 * fits several keys' at once. A 429 pauses one key. In-process only: one tenant's ingest runs in
 * one process at a time.
 */
export class RollingWindowLimiter {
  private readonly history = new Map<string, number[]>();
  private readonly pausedUntil = new Map<string, number>();
  private longestWindowMs = 0;
  private sweepAt = 1_000;

  /** `now` is the limiter's clock; deadlines passed to acquireAll are on it. */
  constructor(readonly now: () => number = Date.now) {}

  async acquire(key: string, windows: readonly RateWindow[]): Promise<void> {
    await this.acquireAll([{ key, windows }]);
  }

  /**
   * Waits until one more request fits every budget, then records it in all of them at once (a
   * request refused by one budget spends none of the others). With a `deadline` (epoch ms on this
   * limiter's clock), a wait that would end after it is not started: it throws
   * CrmRateLimitedError with the wait, so a caller with someone waiting on it (a verification
   * behind an HTTP request) answers "retry later" at once instead of holding the request.
   */
  async acquireAll(budgets: readonly RateBudget[], deadline = Infinity): Promise<void> {
    for (;;) {
      const wait = this.reserveAll(budgets);
      if (wait === 0) return;
      if (this.now() + wait > deadline) throw new CrmRateLimitedError(wait, `no rate budget before the deadline; retry in ${wait} ms`);
      await sleep(wait);
    }
  }

  /** After a 429: no request for this key before `untilMs`. */
  pause(key: string, untilMs: number): void {
    this.pausedUntil.set(key, Math.max(untilMs, this.pausedUntil.get(key) ?? 0));
  }

  /** Records a request and returns 0 when one fits now; otherwise how long to wait (ms), recording nothing. */
  tryAcquire(key: string, windows: readonly RateWindow[]): number {
    return this.reserveAll([{ key, windows }]);
  }

  private reserveAll(budgets: readonly RateBudget[]): number {
    const now = this.now();
    let wait = 0;
    const fitting: Array<{ key: string; times: number[] }> = [];
    for (const { key, windows } of budgets) {
      const paused = (this.pausedUntil.get(key) ?? 0) - now;
      if (paused > 0) {
        wait = Math.max(wait, paused);
        continue;
      }
      const longest = Math.max(...windows.map((w) => w.ms));
      this.longestWindowMs = Math.max(this.longestWindowMs, longest);
      const times = (this.history.get(key) ?? []).filter((t) => t > now - longest);
      for (const w of windows) {
        const inWindow = times.filter((t) => t > now - w.ms);
        if (inWindow.length >= w.limit) {
          // The oldest request still counted must leave the window before one more fits.
          wait = Math.max(wait, inWindow[inWindow.length - w.limit]! + w.ms - now + 1);
        }
      }
      fitting.push({ key, times });
    }
    if (wait > 0) return wait;
    for (const { key, times } of fitting) this.history.set(key, [...times, now]);
    if (this.history.size + this.pausedUntil.size > this.sweepAt) this.sweep(now);
    return 0;
  }

  /**
   * Forgets keys with no request in any window and pauses that are over. Keys come and go (one
   * per token being verified), so without this a stream of distinct tokens would grow the maps
   * for the life of the process.
   */
  private sweep(now: number): void {
    for (const [key, times] of this.history) {
      if (times.every((t) => t <= now - this.longestWindowMs)) this.history.delete(key);
    }
    for (const [key, until] of this.pausedUntil) if (until <= now) this.pausedUntil.delete(key);
    this.sweepAt = Math.max(1_000, 2 * (this.history.size + this.pausedUntil.size));
  }
}

/** 90 % of a limit, at least 1: timing jitter between us and the CRM must never tip it over. */
export const budget = (limit: number): number => Math.max(1, Math.floor(limit * 0.9));
