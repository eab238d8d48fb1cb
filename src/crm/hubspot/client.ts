import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Client } from '@hubspot/api-client';
import type { PublicObjectSearchRequest } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../errors.js';
import { budget, type RollingWindowLimiter } from '../rate-limiter.js';
import { parseRetryAfter } from './retry-after.js';

export interface HubSpotClientOptions {
  baseUrl: string;
  timeoutMs: number;
  tenSecondLimit: number;
  searchPerSecondLimit: number;
  limiter: RollingWindowLimiter;
  /** Called once per HTTP answer (or failure, status 0): metrics and tests count CRM calls. */
  onResponse?: (endpoint: HubSpotEndpoint, status: number) => void;
}

export type HubSpotEndpoint = 'account' | 'list' | 'search';

export interface HubSpotRecord {
  id: string;
  properties: Record<string, string | null>;
  archivedAt?: Date;
}

export interface HubSpotPage {
  results: HubSpotRecord[];
  total?: number;
  nextAfter?: string;
}

/** The body of a contact search (`POST /crm/v3/objects/contacts/search`), as the search pass builds it. */
export interface SearchRequest {
  filterGroups: Array<{ filters: Array<{ propertyName: string; operator: 'EQ' | 'GT' | 'GTE'; value: string }> }>;
  sorts: Array<{ propertyName: string; direction: 'ASCENDING' }>;
  limit: number;
  after?: string;
}

/**
 * The generated API classes of @hubspot/api-client 13 apply the configured middleware (which is
 * how `httpAgent` reaches a request) only when call-time options carry a middleware list; with
 * none, the agent, and so our timeout, would be silently ignored. An empty list appended to the
 * configured ones makes them apply.
 */
const WITH_CONFIGURED_MIDDLEWARE = { middleware: [], middlewareMergeStrategy: 'append' as const };

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HubSpot did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * An agent whose sockets fail after `timeoutMs` without traffic. The official client (node-fetch
 * 2 underneath) takes no AbortSignal, so a stalled HubSpot response is ended at the socket;
 * the request then fails like any network error and BullMQ retries it.
 */
function timeoutAgent(baseUrl: string, timeoutMs: number): http.Agent {
  const Base = baseUrl.startsWith('https:') ? https.Agent : http.Agent;
  const agent = new Base({ keepAlive: false });
  const create = agent.createConnection.bind(agent) as (...args: unknown[]) => Duplex;
  (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection = (...args: unknown[]) => {
    const socket = create(...args) as Duplex & { setTimeout(ms: number, cb: () => void): void };
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`HubSpot did not answer within ${timeoutMs} ms`)));
    return socket;
  };
  return agent;
}

/**
 * HubSpot's CRM v3, through the official client, for one account's token. The client's own
 * retries and limiter are off: BullMQ owns retries and delays, and our limiter keeps every
 * account under 90 % of its ten-second and search budgets. Every answer that is not a success
 * becomes one of the CRM errors the ingest code acts on.
 */
export class HubSpotApi {
  private readonly client: Client;

  constructor(
    accessToken: string,
    private readonly limiterKey: string,
    private readonly options: HubSpotClientOptions,
  ) {
    this.client = new Client({
      accessToken,
      basePath: options.baseUrl.replace(/\/$/, ''),
      numberOfApiCallRetries: 0,
      httpAgent: timeoutAgent(options.baseUrl, options.timeoutMs),
    });
  }

  /** GET /account-info/v3/details → the portal (account) id. */
  async accountDetails(): Promise<{ portalId: string }> {
    const body = await this.call('account', async () => {
      // apiRequest takes no agent: bound the wait here instead.
      const res = await withTimeout(this.client.apiRequest({ method: 'GET', path: '/account-info/v3/details' }), this.options.timeoutMs);
      const text = await res.text();
      const headers = Object.fromEntries(res.headers.entries());
      const parsed = text ? safeJson(text) : undefined;
      if (!res.ok) throw { code: res.status, body: parsed ?? text, headers };
      return parsed as { portalId?: unknown };
    });
    if (typeof body?.portalId !== 'number' && typeof body?.portalId !== 'string') {
      throw new CrmUnavailableError('HubSpot account details carry no portalId');
    }
    return { portalId: String(body.portalId) };
  }

  /** GET /crm/v3/objects/contacts (100 a page, by id; `archived` lists only archived ones). */
  async listContacts(properties: readonly string[], after: string | undefined, archived: boolean): Promise<HubSpotPage> {
    const page = await this.call('list', () =>
      this.client.crm.contacts.basicApi.getPage(100, after, [...properties], undefined, undefined, archived, WITH_CONFIGURED_MIDDLEWARE),
    );
    return {
      results: page.results.map((r) => ({ id: r.id, properties: r.properties, archivedAt: r.archivedAt })),
      nextAfter: page.paging?.next?.after,
    };
  }

  /** POST /crm/v3/objects/contacts/search. */
  async searchContacts(request: SearchRequest, properties: readonly string[]): Promise<HubSpotPage> {
    // The client's typings declare `sorts` as strings; the API takes { propertyName, direction }.
    const body = { ...request, properties: [...properties] } as unknown as PublicObjectSearchRequest;
    const page = await this.call('search', () => this.client.crm.contacts.searchApi.doSearch(body, WITH_CONFIGURED_MIDDLEWARE));
    return {
      results: page.results.map((r) => ({ id: r.id, properties: r.properties })),
      total: page.total,
      nextAfter: page.paging?.next?.after,
    };
  }

  private async call<T>(endpoint: HubSpotEndpoint, send: () => Promise<T>): Promise<T> {
    const { limiter, tenSecondLimit, searchPerSecondLimit } = this.options;
    // Search has its own per-second limit and is exempt from the ten-second one (HubSpot's
    // published spec marks it "x-hubspot-rate-limit-exemptions: ten-secondly").
    if (endpoint === 'search') {
      await limiter.acquire(`${this.limiterKey}:search`, [{ limit: budget(searchPerSecondLimit), ms: 1_000 }]);
    } else {
      await limiter.acquire(this.limiterKey, [{ limit: budget(tenSecondLimit), ms: 10_000 }]);
    }
    try {
      const result = await send();
      this.options.onResponse?.(endpoint, 200);
      return result;
    } catch (err) {
      const translated = this.translate(err);
      const status = (err as { code?: unknown }).code;
      this.options.onResponse?.(endpoint, typeof status === 'number' ? status : 0);
      throw translated;
    }
  }

  private translate(err: unknown): Error {
    const { code, body, headers } = err as { code?: unknown; body?: unknown; headers?: Record<string, string> };
    if (typeof code !== 'number') {
      // node-fetch's FetchError, a reset, our socket timeout: the CRM is not answering.
      return new CrmUnavailableError(`HubSpot unreachable: ${(err as Error).message ?? String(err)}`);
    }
    if (code === 401 || code === 403) return new CrmUnauthorizedError(`HubSpot refused the credentials (${code})`);
    if (code === 429) {
      const policy = (body as { policyName?: string } | undefined)?.policyName;
      // Without Retry-After, wait out the rolling window the 429 names: one second for the
      // search limit, ten for the ten-second limit (and anything unnamed).
      const waitMs = parseRetryAfter(headers?.['retry-after'], new Date()) ?? (policy === 'SECONDLY' ? 1_000 : 10_000);
      this.options.limiter.pause(policy === 'SECONDLY' ? `${this.limiterKey}:search` : this.limiterKey, Date.now() + waitMs);
      return new CrmRateLimitedError(waitMs, `HubSpot rate limit${policy ? ` (${policy})` : ''}; retry in ${waitMs} ms`);
    }
    if (code >= 500) return new CrmUnavailableError(`HubSpot answered ${code}`, code);
    const message = (body as { message?: string } | undefined)?.message;
    return new Error(`HubSpot answered ${code}${message ? `: ${message}` : ''}`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
