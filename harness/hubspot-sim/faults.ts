import type { RateLimitPolicy } from './errors.js';

/** The HubSpot endpoints the simulator serves, as named in faults and stats. */
export const ENDPOINTS = [
  'account-info',
  'contacts.list',
  'contacts.search',
  'contacts.get',
  'contacts.batch-read',
  'contacts.create',
  'contacts.update',
  'contacts.archive',
] as const;
export type EndpointName = (typeof ENDPOINTS)[number];

export function isEndpointName(v: unknown): v is EndpointName {
  return typeof v === 'string' && (ENDPOINTS as readonly string[]).includes(v);
}

/**
 * Which requests a fault applies to; an absent field matches any. `portalId` is the account (a
 * HubSpot portal, a Pipedrive company: the Pipedrive simulator uses this book too, with its own
 * endpoint names).
 */
export interface FaultScope<E extends string = EndpointName> {
  portalId?: number;
  endpoint?: E;
}

export interface FaultCount {
  count: number;
  /**
   * Matching requests to let through before the fault applies (0 by default): aims a fault past
   * calls a test does not mean it for, such as an onboarding verification's contact read.
   */
  skip?: number;
}

export interface FailNext<E extends string = EndpointName> extends FaultScope<E>, FaultCount {
  /** 500 by default. */
  status?: number;
}

export interface RateLimitNext<E extends string = EndpointName> extends FaultScope<E>, FaultCount {
  /** Sent as Retry-After (seconds) when given; HubSpot's own 429s usually carry none. */
  retryAfterSeconds?: number;
  /** TEN_SECONDLY_ROLLING by default; SECONDLY is the search limit's. */
  policy?: RateLimitPolicy;
}

export interface Delay<E extends string = EndpointName> extends FaultScope<E> {
  ms: number;
}

export type InjectedFault =
  | { kind: 'fail'; status: number }
  | { kind: 'rate-limit'; policy: RateLimitPolicy; retryAfterSeconds?: number };

interface Queued<E extends string> {
  scope: FaultScope<E>;
  skip: number;
  remaining: number;
  fault: InjectedFault;
}

function matches<E extends string>(scope: FaultScope<E>, portalId: number, endpoint: E): boolean {
  return (scope.portalId === undefined || scope.portalId === portalId) && (scope.endpoint === undefined || scope.endpoint === endpoint);
}

function sameScope<E extends string>(a: FaultScope<E>, b: FaultScope<E>): boolean {
  return a.portalId === b.portalId && a.endpoint === b.endpoint;
}

/**
 * Faults to inject, consumed in the order they were set: "the next N requests" means the next N
 * that match, so a test can line up, say, two 503s and then a 429 for the search endpoint alone.
 */
export class FaultBook<E extends string = EndpointName> {
  private queue: Queued<E>[] = [];
  private delays: Delay<E>[] = [];

  failNext({ count, skip = 0, status = 500, ...scope }: FailNext<E>): void {
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`status must be 400..599; got ${status}`);
    this.push(scope, count, skip, { kind: 'fail', status });
  }

  rateLimitNext({ count, skip = 0, retryAfterSeconds, policy = 'TEN_SECONDLY_ROLLING', ...scope }: RateLimitNext<E>): void {
    if (retryAfterSeconds !== undefined && !(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 0)) {
      throw new RangeError(`retryAfterSeconds must be a whole number of seconds; got ${retryAfterSeconds}`);
    }
    const fault: InjectedFault =
      retryAfterSeconds === undefined ? { kind: 'rate-limit', policy } : { kind: 'rate-limit', policy, retryAfterSeconds };
    this.push(scope, count, skip, fault);
  }

  /** Sets the delay for a scope (0 removes it). When several scopes match a request, the longest wins. */
  setDelay({ ms, ...scope }: Delay<E>): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`ms must be >= 0; got ${ms}`);
    this.delays = this.delays.filter((d) => !sameScope(d, scope));
    if (ms > 0) this.delays.push({ ms, ...scope });
  }

  /** Takes the first queued fault that applies to this request, if any; a fault still skipping lets it pass on. */
  take(portalId: number, endpoint: E): InjectedFault | undefined {
    for (let i = 0; i < this.queue.length; i++) {
      const q = this.queue[i]!;
      if (!matches(q.scope, portalId, endpoint)) continue;
      if (q.skip > 0) {
        q.skip--;
        continue;
      }
      if (--q.remaining === 0) this.queue.splice(i, 1);
      return q.fault;
    }
    return undefined;
  }

  delayFor(portalId: number, endpoint: E): number {
    let ms = 0;
    for (const d of this.delays) if (matches(d, portalId, endpoint)) ms = Math.max(ms, d.ms);
    return ms;
  }

  reset(): void {
    this.queue = [];
    this.delays = [];
  }

  describe(): { queued: (FaultScope<E> & InjectedFault & { remaining: number; skip: number })[]; delays: Delay<E>[] } {
    return {
      queued: this.queue.map((q) => ({ ...q.scope, ...q.fault, remaining: q.remaining, skip: q.skip })),
      delays: this.delays.map((d) => ({ ...d })),
    };
  }

  private push(scope: FaultScope<E>, count: number, skip: number, fault: InjectedFault): void {
    if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`count must be a positive integer; got ${count}`);
    if (!(Number.isInteger(skip) && skip >= 0)) throw new RangeError(`skip must be a whole number; got ${skip}`);
    const clean: FaultScope<E> = {};
    if (scope.portalId !== undefined) clean.portalId = scope.portalId;
    if (scope.endpoint !== undefined) clean.endpoint = scope.endpoint;
    this.queue.push({ scope: clean, skip, remaining: count, fault });
  }
}
