import { setTimeout as sleep } from 'node:timers/promises';

export interface RateWindow {
  /** Requests allowed in any rolling window of `ms`. */
  limit: number;
  ms: number;
}

/**
 * A rolling-window limiter per key (a CRM account), enforced on our side so that an ingest
 * stays under the CRM's limits instead of learning them from 429s. It keeps the time of every
 * request in the longest window, per key, per window set; `acquire` waits until one more
 * request fits every window. In-process only: one tenant's ingest runs in one process at a time.
 */
export class RollingWindowLimiter {
  private readonly history = new Map<string, number[]>();
  private readonly pausedUntil = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async acquire(key: string, windows: readonly RateWindow[]): Promise<void> {
    for (;;) {
      const wait = this.reserve(key, windows);
      if (wait === 0) return;
      await sleep(wait);
    }
  }

  /** After a 429: no request for this key before `untilMs`. */
  pause(key: string, untilMs: number): void {
    this.pausedUntil.set(key, Math.max(untilMs, this.pausedUntil.get(key) ?? 0));
  }

  /** Records a request and returns 0 when one fits now; otherwise how long to wait (ms), recording nothing. */
  tryAcquire(key: string, windows: readonly RateWindow[]): number {
    return this.reserve(key, windows);
  }

  private reserve(key: string, windows: readonly RateWindow[]): number {
    const now = this.now();
    const paused = (this.pausedUntil.get(key) ?? 0) - now;
    if (paused > 0) return paused;
    const longest = Math.max(...windows.map((w) => w.ms));
    const times = (this.history.get(key) ?? []).filter((t) => t > now - longest);
    let wait = 0;
    for (const w of windows) {
      const inWindow = times.filter((t) => t > now - w.ms);
      if (inWindow.length >= w.limit) {
        // The oldest request still counted must leave the window before one more fits.
        wait = Math.max(wait, inWindow[inWindow.length - w.limit]! + w.ms - now + 1);
      }
    }
    if (wait === 0) times.push(now);
    this.history.set(key, times);
    return wait;
  }
}

/** 90 % of a limit, at least 1: timing jitter between us and the CRM must never tip it over. */
export const budget = (limit: number): number => Math.max(1, Math.floor(limit * 0.9));
