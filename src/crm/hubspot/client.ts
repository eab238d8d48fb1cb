import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { Client } from '@hubspot/api-client';
import type { PublicObjectSearchRequest } from '@hubspot/api-client/lib/codegen/crm/contacts/index.js';
import { CrmRateLimitedError, CrmTokenExpiredError, CrmUnauthorizedError, CrmUnavailableError } from '../errors.js';
import { budget, type RateBudget, type RollingWindowLimiter } from '../rate-limiter.js';
import { isHubSpotToken } from './auth.js';
import { parseRetryAfter } from '../retry-after.js';

export interface HubSpotClientOptions {
  baseUrl: string;
  timeoutMs: number;
  tenSecondLimit: number;
  searchPerSecondLimit: number;
  limiter: RollingWindowLimiter;
  /** Called once per HTTP answer (or failure, status 0): metrics and tests count CRM calls. */
  onResponse?: (endpoint: HubSpotEndpoint, status: number) => void;
}

export type HubSpotEndpoint = 'account' | 'list' | 'search' | 'batch-read';

/** HubSpot's most ids per batch read. */
export const BATCH_READ_MAX_IDS = 100;

export interface HubSpotBatchRead {
  /** What HubSpot found. An id merged into another contact comes back as the survivor, under the survivor's id. */
  results: HubSpotRecord[];
  /** Ids asked for that HubSpot reported not found (deleted for good, never existed, or not of `archived`'s kind). */
  notFound: string[];
}

/** What one call may spend besides its key's own budget, and how long it may wait for that. */
export interface CallBudget {
  /** Further budgets the call must fit too (a cap shared by verifications, an account's share for them). */
  also?: readonly RateBudget[];
  /** Epoch ms on the limiter's clock: a wait for budget that would end later throws CrmRateLimitedError at once. */
  deadline?: number;
}

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
export const WITH_CONFIGURED_MIDDLEWARE = { middleware: [], middlewareMergeStrategy: 'append' as const };

/** Our own timeouts, at the socket or around apiRequest; node-fetch keeps the `code` of the error it wraps. */
const TIMEOUT_CODE = 'HUBSPOT_TIMEOUT';
const timedOut = (ms: number) => Object.assign(new Error(`HubSpot did not answer within ${ms} ms`), { code: TIMEOUT_CODE });

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * An agent whose sockets fail after `timeoutMs` without traffic. The official client (node-fetch
 * 2 underneath) takes no AbortSignal, so a stalled HubSpot response is ended at the socket;
 * the request then fails like any network error and BullMQ retries it.
 */
export function timeoutAgent(baseUrl: string, timeoutMs: number): http.Agent {
  const Base = baseUrl.startsWith('https:') ? https.Agent : http.Agent;
  const agent = new Base({ keepAlive: false });
  const create = agent.createConnection.bind(agent) as (...args: unknown[]) => Duplex;
  (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection = (...args: unknown[]) => {
    const socket = create(...args) as Duplex & { setTimeout(ms: number, cb: () => void): void };
    socket.setTimeout(timeoutMs, () => socket.destroy(timedOut(timeoutMs)));
    return socket;
  };
  return agent;
}

/**
 * HubSpot's CRM v3, through the official client, for one account's token. The client's own
 * retries and limiter are off: BullMQ owns retries and delays, and our limiter keeps every
 * account under 90 % of its ten-second and search budgets. Every answer that is not a success
 * becomes one of the CRM errors the ingest code acts on, whose message says what failed and never
 * where or with what: no token, no URL, no host (they reach logs and, through onboarding, the 503
 * an unknown caller gets).
 *
 * `limiterKey` is whose budget the calls spend and whom a 429 pauses: the account's id, or, while
 * a token's account is not known yet, a key of that token's own.
 */
export class HubSpotApi {
  private readonly client: Client;
  private readonly secrets: string[];

  constructor(
    accessToken: string,
    private readonly limiterKey: string,
    private readonly options: HubSpotClientOptions,
  ) {
    // A string no Authorization header can carry would fail inside the HTTP client, with the
    // header (so the token) in the error; it is refused here, as the credentials it is.
    if (!isHubSpotToken(accessToken)) throw new CrmUnauthorizedError('not a well-formed HubSpot access token');
    const base = new URL(options.baseUrl);
    this.secrets = [accessToken, options.baseUrl.replace(/\/$/, ''), base.host, base.hostname].filter((x) => x !== '');
    this.client = new Client({
      accessToken,
      basePath: options.baseUrl.replace(/\/$/, ''),
      numberOfApiCallRetries: 0,
      httpAgent: timeoutAgent(options.baseUrl, options.timeoutMs),
    });
  }

  /** GET /account-info/v3/details → the portal (account) id. Any token of the portal may call it, whatever its scopes. */
  async accountDetails(spend?: CallBudget): Promise<{ portalId: string }> {
    const body = await this.call('account', async () => {
      // apiRequest takes no agent: bound the wait here instead.
      const res = await withTimeout(this.client.apiRequest({ method: 'GET', path: '/account-info/v3/details' }), this.options.timeoutMs);
      const text = await res.text();
      const headers = Object.fromEntries(res.headers.entries());
      const parsed = text ? safeJson(text) : undefined;
      if (!res.ok) throw { code: res.status, body: parsed ?? text, headers };
      return parsed as { portalId?: unknown };
    }, spend);
    if (typeof body?.portalId !== 'number' && typeof body?.portalId !== 'string') {
      throw new CrmUnavailableError('HubSpot account details carry no portalId');
    }
    return { portalId: String(body.portalId) };
  }

  /**
   * Proves the token may read contacts, as ingest will: `GET /crm/v3/objects/contacts?limit=1`,
   * asking for `hs_object_id` alone so that no name or email is fetched to prove it. A token
   * without `crm.objects.contacts.read` gets 403 MISSING_SCOPES: CrmUnauthorizedError.
   */
  async readsContacts(spend?: CallBudget): Promise<void> {
    await this.call(
      'list',
      () => this.client.crm.contacts.basicApi.getPage(1, undefined, ['hs_object_id'], undefined, undefined, false, WITH_CONFIGURED_MIDDLEWARE),
      spend,
    );
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

  /**
   * POST /crm/v3/objects/contacts/batch/read: up to 100 ids at once (the re-read a webhook's
   * events ask for). Ids that find nothing do not fail the call: HubSpot answers 207, listing them
   * in an OBJECT_NOT_FOUND error. `archived` reads archived contacts only.
   */
  async readContacts(ids: readonly string[], properties: readonly string[], archived = false): Promise<HubSpotBatchRead> {
    if (ids.length > BATCH_READ_MAX_IDS) throw new RangeError(`at most ${BATCH_READ_MAX_IDS} ids per batch read; got ${ids.length}`);
    if (ids.length === 0) return { results: [], notFound: [] };
    const body = { inputs: ids.map((id) => ({ id })), properties: [...properties], propertiesWithHistory: [] };
    const page = await this.call('batch-read', () => this.client.crm.contacts.batchApi.read(body, archived, WITH_CONFIGURED_MIDDLEWARE));
    const errors = ('errors' in page ? page.errors : undefined) ?? [];
    const notFound = errors.filter((e) => e.category === 'OBJECT_NOT_FOUND').flatMap((e) => e.context?.ids ?? []);
    return {
      results: page.results.map((r) => ({ id: r.id, properties: r.properties, archivedAt: r.archivedAt })),
      notFound,
    };
  }

  private async call<T>(endpoint: HubSpotEndpoint, send: () => Promise<T>, spend: CallBudget = {}): Promise<T> {
    const { limiter, tenSecondLimit, searchPerSecondLimit } = this.options;
    // Search has its own per-second limit and is exempt from the ten-second one (HubSpot's
    // published spec marks it "x-hubspot-rate-limit-exemptions: ten-secondly").
    const own: RateBudget =
      endpoint === 'search'
        ? { key: `${this.limiterKey}:search`, windows: [{ limit: budget(searchPerSecondLimit), ms: 1_000 }] }
        : { key: this.limiterKey, windows: [{ limit: budget(tenSecondLimit), ms: 10_000 }] };
    await limiter.acquireAll([own, ...(spend.also ?? [])], spend.deadline);
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
    const { code, body, headers } = (err ?? {}) as { code?: unknown; body?: unknown; headers?: Record<string, string> };
    if (typeof code !== 'number') return this.unreachable(err);
    if (code === 401 || code === 403) {
      // 403 MISSING_SCOPES: a token of the portal without the scope the call needs (a private app
      // made for tickets, another app's OAuth token). The scope HubSpot names is worth a log line.
      const category = word((body as { category?: unknown } | undefined)?.category);
      const scopes = requiredScopes(body);
      const why = [category, scopes.length > 0 ? `needs ${scopes.join(' or ')}` : undefined].filter(Boolean).join(', ');
      if (code === 401 && category === 'EXPIRED_AUTHENTICATION') return new CrmTokenExpiredError('HubSpot reports the OAuth access token expired (401 EXPIRED_AUTHENTICATION)');
      return new CrmUnauthorizedError(`HubSpot refused the credentials (${code}${why ? ` ${why}` : ''})`);
    }
    if (code === 429) {
      const policy = (body as { policyName?: string } | undefined)?.policyName;
      // Without Retry-After, wait out the rolling window the 429 names: one second for the
      // search limit, ten for the ten-second limit (and anything unnamed).
      const waitMs = parseRetryAfter(headers?.['retry-after'], new Date()) ?? (policy === 'SECONDLY' ? 1_000 : 10_000);
      this.options.limiter.pause(policy === 'SECONDLY' ? `${this.limiterKey}:search` : this.limiterKey, Date.now() + waitMs);
      return new CrmRateLimitedError(waitMs, `HubSpot rate limit${policy ? ` (${policy})` : ''}; retry in ${waitMs} ms`);
    }
    if (code >= 500) return new CrmUnavailableError(`HubSpot answered ${code}`, code);
    const message = (body as { message?: unknown } | undefined)?.message;
    return new Error(this.scrub(`HubSpot answered ${code}${typeof message === 'string' && message ? `: ${message.slice(0, 300)}` : ''}`));
  }

  /**
   * A request that got no HTTP answer: refused, reset, timed out, unreadable. node-fetch's
   * messages carry the request's URL, a socket error's the host and port, and a header check's
   * the header itself (the token): the error says which kind of failure, by its code, and nothing else.
   */
  private unreachable(err: unknown): CrmUnavailableError {
    const { code, type, name } = (err ?? {}) as { code?: unknown; type?: unknown; name?: unknown };
    if (code === TIMEOUT_CODE) return new CrmUnavailableError(`HubSpot did not answer within ${this.options.timeoutMs} ms`);
    const kind = word(code) ?? word(type) ?? word(name);
    return new CrmUnavailableError(`HubSpot unreachable${kind ? ` (${kind})` : ''}`);
  }

  /** HubSpot's own words (a 4xx message) pass through, but never with our token or address in them. */
  private scrub(text: string): string {
    return this.secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
  }
}

/** An identifier-like string (an error code, a category), or undefined: never free text from elsewhere. */
function word(v: unknown): string | undefined {
  return typeof v === 'string' && /^[A-Za-z][A-Za-z0-9_.-]{0,59}$/.test(v) ? v : undefined;
}

/** The scopes a 403 MISSING_SCOPES names (`errors[].context.requiredGranularScopes`, or `requiredScopes`). */
function requiredScopes(body: unknown): string[] {
  const errors = (body as { errors?: unknown } | undefined)?.errors;
  if (!Array.isArray(errors)) return [];
  const out = new Set<string>();
  for (const e of errors) {
    const context = (e as { context?: Record<string, unknown> } | null)?.context ?? {};
    for (const list of [context.requiredGranularScopes, context.requiredScopes]) {
      if (Array.isArray(list)) for (const scope of list) if (word(scope)) out.add(scope as string);
    }
  }
  return [...out].slice(0, 5);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
