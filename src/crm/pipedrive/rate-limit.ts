import { budget, type RateWindow, type RollingWindowLimiter } from '../rate-limiter.js';
import { parseRetryAfter } from '../retry-after.js';

/** Pipedrive counts each token's requests per 2-second window (docs: "Rate limiting"). */
export const WINDOW_MS = 2_000;
/**
 * The window assumed for a token before Pipedrive's first answer says its plan's: the smallest
 * plan's (Essential, 20 per 2 s for an api_token). Every answer's `x-ratelimit-limit` replaces it.
 */
export const FIRST_WINDOW_LIMIT = 20;
/** The header the company's daily budget is read from, when Pipedrive sends it. */
export const DAILY_LEFT_HEADER = 'x-daily-requests-left';

/** Tokens whose window is remembered, at most (the oldest are forgotten first, and re-learned on their next answer). */
const KNOWN_MAX = 10_000;

export type HeaderBag = Record<string, unknown>;

/**
 * Pipedrive's limits as its answers state them, kept per token (its 2-second window) and per
 * company (its daily budget), over the shared rolling-window limiter:
 * - a token spends at most 90 % of the window its plan allows, learned from `x-ratelimit-limit`
 *   (no plan is hard-coded);
 * - when `x-ratelimit-remaining` says the window is 90 % spent anyway (the same user's browser,
 *   another integration on the same token), the token waits for `x-ratelimit-reset`;
 * - a 429 pauses that token alone, for `Retry-After` when given, else the window's reset;
 * - the daily budget left (`x-daily-requests-left`) is remembered per company, for the connector
 *   to slow that tenant's polling when it runs low.
 */
export class PipedriveRateLimits {
  private readonly windowLimit = new Map<string, number>();
  private readonly dailyLeft = new Map<string, number>();

  constructor(readonly limiter: RollingWindowLimiter) {}

  /** The windows one more request of this token must fit. */
  windows(key: string): RateWindow[] {
    return [{ limit: budget(this.windowLimit.get(key) ?? FIRST_WINDOW_LIMIT), ms: WINDOW_MS }];
  }

  /** Learns from an answer's headers (any status). `account` is the company, when known. */
  observe(key: string, headers: HeaderBag, account?: string): void {
    const limit = count(headers['x-ratelimit-limit']);
    if (limit !== undefined && limit > 0) this.remember(this.windowLimit, key, limit);
    const known = limit ?? this.windowLimit.get(key);
    const remaining = count(headers['x-ratelimit-remaining']);
    if (known !== undefined && remaining !== undefined && remaining < known - budget(known)) {
      this.limiter.pause(key, this.limiter.now() + resetMs(headers));
    }
    const daily = count(headers[DAILY_LEFT_HEADER]);
    if (account !== undefined && daily !== undefined) this.remember(this.dailyLeft, account, daily);
  }

  /** After a 429: pauses the token and returns how long it must wait (ms). */
  tooMany(key: string, headers: HeaderBag): number {
    const wait = parseRetryAfter(str(headers['retry-after']), new Date(this.limiter.now())) ?? resetMs(headers);
    this.limiter.pause(key, this.limiter.now() + wait);
    return wait;
  }

  /** Requests left in the company's day, as Pipedrive last said; undefined when it has not. */
  dailyBudgetLeft(account: string): number | undefined {
    return this.dailyLeft.get(account);
  }

  private remember(map: Map<string, number>, key: string, value: number): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > KNOWN_MAX) map.delete(map.keys().next().value!);
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : typeof v === 'number' ? String(v) : undefined);

function count(v: unknown): number | undefined {
  const s = str(v)?.trim();
  return s !== undefined && /^\d{1,15}$/.test(s) ? Number(s) : undefined;
}

/** `x-ratelimit-reset` (seconds left in the window) in ms; the whole window when it is missing or odd. */
function resetMs(headers: HeaderBag): number {
  const seconds = count(headers['x-ratelimit-reset']);
  return seconds !== undefined && seconds <= 60 ? Math.max(seconds * 1000, 1) : WINDOW_MS;
}
