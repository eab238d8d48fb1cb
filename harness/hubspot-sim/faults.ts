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

/** Which requests a fault applies to; an absent field matches any. */
export interface FaultScope {
  portalId?: number;
  endpoint?: EndpointName;
}

export interface FaultCount {
  count: number;
  /**
   * Matching requests to let through before the fault applies (0 by default): aims a fault past
   * calls a test does not mean it for, such as an onboarding verification's contact read.
   */
  skip?: number;
}

export interface FailNext extends FaultScope, FaultCount {
  /** 500 by default. */
  status?: number;
}

export interface RateLimitNext extends FaultScope, FaultCount {
  /** Sent as Retry-After (seconds) when given; HubSpot's own 429s usually carry none. */
  retryAfterSeconds?: number;
  /** TEN_SECONDLY_ROLLING by default; SECONDLY is the search limit's. */
  policy?: RateLimitPolicy;
}

export interface Delay extends FaultScope {
  ms: number;
}

export type InjectedFault =
  | { kind: 'fail'; status: number }
  | { kind: 'rate-limit'; policy: RateLimitPolicy; retryAfterSeconds?: number };

interface Queued {
  scope: FaultScope;
  skip: number;
  remaining: number;
  fault: InjectedFault;
}

function matches(scope: FaultScope, portalId: number, endpoint: EndpointName): boolean {
  return (scope.portalId === undefined || scope.portalId === portalId) && (scope.endpoint === undefined || scope.endpoint === endpoint);
}

function sameScope(a: FaultScope, b: FaultScope): boolean {
  return a.portalId === b.portalId && a.endpoint === b.endpoint;
}

/**
 * Faults to inject, consumed in the order they were set: "the next N requests" means the next N
 * that match, so a test can line up, say, two 503s and then a 429 for the search endpoint alone.
 */
export class FaultBook {
  private queue: Queued[] = [];
  private delays: Delay[] = [];

  failNext({ count, skip = 0, status = 500, ...scope }: FailNext): void {
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`status must be 400..599; got ${status}`);
    this.push(scope, count, skip, { kind: 'fail', status });
  }

  rateLimitNext({ count, skip = 0, retryAfterSeconds, policy = 'TEN_SECONDLY_ROLLING', ...scope }: RateLimitNext): void {
    if (retryAfterSeconds !== undefined && !(Number.isInteger(retryAfterSeconds) && retryAfterSeconds >= 0)) {
      throw new RangeError(`retryAfterSeconds must be a whole number of seconds; got ${retryAfterSeconds}`);
    }
    const fault: InjectedFault =
      retryAfterSeconds === undefined ? { kind: 'rate-limit', policy } : { kind: 'rate-limit', policy, retryAfterSeconds };
    this.push(scope, count, skip, fault);
  }

  /** Sets the delay for a scope (0 removes it). When several scopes match a request, the longest wins. */
  setDelay({ ms, ...scope }: Delay): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`ms must be >= 0; got ${ms}`);
    this.delays = this.delays.filter((d) => !sameScope(d, scope));
    if (ms > 0) this.delays.push({ ms, ...scope });
  }

  /** Takes the first queued fault that applies to this request, if any; a fault still skipping lets it pass on. */
  take(portalId: number, endpoint: EndpointName): InjectedFault | undefined {
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

  delayFor(portalId: number, endpoint: EndpointName): number {
    let ms = 0;
    for (const d of this.delays) if (matches(d, portalId, endpoint)) ms = Math.max(ms, d.ms);
    return ms;
  }

  reset(): void {
    this.queue = [];
    this.delays = [];
  }

  describe(): { queued: (FaultScope & InjectedFault & { remaining: number; skip: number })[]; delays: Delay[] } {
    return {
      queued: this.queue.map((q) => ({ ...q.scope, ...q.fault, remaining: q.remaining, skip: q.skip })),
      delays: this.delays.map((d) => ({ ...d })),
    };
  }

  private push(scope: FaultScope, count: number, skip: number, fault: InjectedFault): void {
    if (!(Number.isInteger(count) && count > 0)) throw new RangeError(`count must be a positive integer; got ${count}`);
    if (!(Number.isInteger(skip) && skip >= 0)) throw new RangeError(`skip must be a whole number; got ${skip}`);
    const clean: FaultScope = {};
    if (scope.portalId !== undefined) clean.portalId = scope.portalId;
    if (scope.endpoint !== undefined) clean.endpoint = scope.endpoint;
    this.queue.push({ scope: clean, skip, remaining: count, fault });
  }
}
