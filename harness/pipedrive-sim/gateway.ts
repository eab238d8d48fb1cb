import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FaultBook } from '../hubspot-sim/faults.js';
import type { Company, SimUser } from './company.js';
import { errorBody, OVER_DAILY_BUDGET, OVER_LIMIT, UNAUTHORIZED } from './errors.js';

/** The Pipedrive endpoints the simulator serves, as faults and stats name them. */
export const ENDPOINTS = ['users.me', 'persons.list', 'organizations.list', 'webhooks.list', 'webhooks.add', 'webhooks.delete'] as const;
export type PipedriveEndpoint = (typeof ENDPOINTS)[number];

export const isEndpoint = (v: unknown): v is PipedriveEndpoint => typeof v === 'string' && (ENDPOINTS as readonly string[]).includes(v);

/** Pipedrive's window: each token's requests are limited per 2 seconds. */
export const WINDOW_MS = 2_000;
/** What the sim names the company's daily budget in every answer. */
export const DAILY_LEFT_HEADER = 'x-daily-requests-left';

/** Who a token is: a user of one company. A token belongs to one user, as Pipedrive's personal tokens do. */
export interface TokenOwner {
  company: Company;
  user: SimUser;
}

export interface RequestRecord {
  endpoint: PipedriveEndpoint;
  status: number;
  /** The query string as sent (a token in it would show here, as in an access log). */
  query: string;
  companyId?: number;
}

export interface GatewayDeps {
  ownerOf(token: string): TokenOwner | undefined;
  faults: FaultBook<PipedriveEndpoint>;
  clock: () => number;
  endpointOf(method: string, routeUrl: string | undefined): PipedriveEndpoint | undefined;
  record(r: RequestRecord): void;
}

interface Window {
  start: number;
  count: number;
}

/** Per token: requests in its current 2-second window; per company and UTC day: requests spent. */
export class Limits {
  private readonly windows = new Map<string, Window>();
  private readonly daily = new Map<number, { day: number; used: number }>();

  constructor(private readonly clock: () => number) {}

  /** Counts the request if the window has room; a refused one is not counted. */
  admit(token: string, limit: number): { allowed: boolean; remaining: number; resetSeconds: number } {
    const now = this.clock();
    const start = now - (now % WINDOW_MS);
    let w = this.windows.get(token);
    if (!w || w.start !== start) {
      w = { start, count: 0 };
      this.windows.set(token, w);
    }
    const resetSeconds = Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000));
    if (w.count >= limit) return { allowed: false, remaining: 0, resetSeconds };
    w.count++;
    return { allowed: true, remaining: limit - w.count, resetSeconds };
  }

  peek(token: string, limit: number): { remaining: number; resetSeconds: number } {
    const now = this.clock();
    const start = now - (now % WINDOW_MS);
    const w = this.windows.get(token);
    const used = w && w.start === start ? w.count : 0;
    return { remaining: Math.max(0, limit - used), resetSeconds: Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000)) };
  }

  /** Spends one request of the company's day; the budget left after it, or -1 when none was left. */
  spend(company: Company): number {
    const day = Math.floor(this.clock() / 86_400_000);
    let d = this.daily.get(company.id);
    if (!d || d.day !== day) {
      d = { day, used: 0 };
      this.daily.set(company.id, d);
    }
    if (d.used >= company.dailyBudget) return -1;
    d.used++;
    return company.dailyBudget - d.used;
  }

  /** Seconds until the next UTC midnight, when the daily budget comes back. */
  untilMidnight(): number {
    return Math.ceil((86_400_000 - (this.clock() % 86_400_000)) / 1000);
  }

  reset(): void {
    this.windows.clear();
    this.daily.clear();
  }
}

/**
 * What stands between a client and the CRM handlers, in Pipedrive's order as a client can observe
 * it: the token (`x-api-token`, as the official client sends it, or `api_token` in the query, which
 * Pipedrive also accepts), injected latency and faults, the company's daily budget, then the token's 2-second
 * window. Every answer past authentication carries x-ratelimit-limit, -remaining and -reset.
 */
export function installGateway(app: FastifyInstance, deps: GatewayDeps, limits: Limits): (request: FastifyRequest) => TokenOwner {
  const owners = new WeakMap<FastifyRequest, TokenOwner>();

  app.addHook('onRequest', async (request, reply) => {
    const endpoint = deps.endpointOf(request.method, request.routeOptions.url);
    if (!endpoint) return;
    const header = request.headers['x-api-token'];
    const query = (request.query as Record<string, unknown> | undefined)?.api_token;
    const token = typeof header === 'string' ? header : typeof query === 'string' ? query : '';
    const owner = deps.ownerOf(token);
    if (!owner) return reply.code(401).send(UNAUTHORIZED());
    owners.set(request, owner);
    const { company } = owner;

    const delay = deps.faults.delayFor(company.id, endpoint);
    if (delay > 0) await sleep(delay);
    const fault = deps.faults.take(company.id, endpoint);
    if (fault?.kind === 'fail') {
      rateHeaders(reply, company.windowLimit, limits.peek(token, company.windowLimit));
      return reply.code(fault.status).send(errorBody(fault.status, fault.status >= 500 ? 'Internal server error' : 'Request failed'));
    }
    if (fault?.kind === 'rate-limit') {
      rateHeaders(reply, company.windowLimit, { remaining: 0, resetSeconds: limits.peek(token, company.windowLimit).resetSeconds });
      if (fault.retryAfterSeconds !== undefined) reply.header('retry-after', String(fault.retryAfterSeconds));
      return reply.code(429).send(OVER_LIMIT());
    }

    const left = limits.spend(company);
    if (left < 0) {
      rateHeaders(reply, company.windowLimit, limits.peek(token, company.windowLimit));
      reply.header(DAILY_LEFT_HEADER, '0');
      reply.header('retry-after', String(limits.untilMidnight()));
      return reply.code(429).send(OVER_DAILY_BUDGET());
    }
    if (Number.isFinite(company.dailyBudget)) reply.header(DAILY_LEFT_HEADER, String(left));

    const decision = limits.admit(token, company.windowLimit);
    rateHeaders(reply, company.windowLimit, decision);
    if (!decision.allowed) {
      reply.header('retry-after', String(decision.resetSeconds));
      return reply.code(429).send(OVER_LIMIT());
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const endpoint = deps.endpointOf(request.method, request.routeOptions.url);
    if (!endpoint) return;
    const q = request.url.indexOf('?');
    const companyId = owners.get(request)?.company.id;
    deps.record({ endpoint, status: reply.statusCode, query: q < 0 ? '' : request.url.slice(q + 1), ...(companyId === undefined ? {} : { companyId }) });
  });

  return (request) => {
    const owner = owners.get(request);
    if (!owner) throw new Error(`${request.method} ${request.url} did not pass the gateway`);
    return owner;
  };
}

function rateHeaders(reply: FastifyReply, limit: number, state: { remaining: number; resetSeconds: number }): void {
  reply.header('x-ratelimit-limit', String(limit));
  reply.header('x-ratelimit-remaining', String(state.remaining));
  reply.header('x-ratelimit-reset', String(state.resetSeconds));
}
