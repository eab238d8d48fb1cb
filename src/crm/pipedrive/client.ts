import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { v1, v2 } from 'pipedrive';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../errors.js';
import type { RateBudget } from '../rate-limiter.js';
import type { PipedrivePerson } from './mapping.js';
import type { HeaderBag, PipedriveRateLimits } from './rate-limit.js';

export type PipedriveEndpoint = 'users.me' | 'persons.list' | 'organizations.list' | 'webhooks.list' | 'webhooks.add' | 'webhooks.delete';

export interface PipedriveClientOptions {
  /** PIPEDRIVE_BASE_URL: API v1 lives under `/v1`, v2 under `/api/v2`, as on api.pipedrive.com. */
  baseUrl: string;
  timeoutMs: number;
  limits: PipedriveRateLimits;
  /** Called once per HTTP answer (or failure, status 0): metrics and tests count CRM calls. */
  onResponse?: (endpoint: PipedriveEndpoint, status: number) => void;
}

/** What one call may spend besides its token's own window, and how long it may wait for that. */
export interface CallBudget {
  also?: readonly RateBudget[];
  /** Epoch ms on the limiter's clock: a wait for budget that would end later throws CrmRateLimitedError at once. */
  deadline?: number;
}

export interface PipedriveCompany {
  companyId: string;
  companyName: string;
  companyDomain: string | undefined;
}

export interface PipedriveOrganization {
  id: number;
  name?: string | null;
  update_time?: string | null;
}

export interface ListPage<T> {
  data: T[];
  nextCursor: string | undefined;
}

export interface PersonsQuery {
  limit: number;
  /** At most 100; persons deleted or hidden from the token's user are left out of the answer. */
  ids?: readonly number[];
  cursor?: string;
  sortBy?: 'id' | 'update_time';
  sortDirection?: 'asc' | 'desc';
  /** RFC 3339, inclusive. */
  updatedSince?: string;
  orgId?: number;
}

export interface OrganizationsQuery {
  limit: number;
  cursor?: string;
  ids?: readonly number[];
  updatedSince?: string;
  sortBy?: 'id' | 'update_time';
  sortDirection?: 'asc' | 'desc';
}

/** A webhook subscription as Pipedrive lists it (the fields the bridge reads). */
export interface PipedriveWebhook {
  id: number;
  subscription_url?: string;
}

/** What `POST /v1/webhooks` is given: version 2.0 person events, with the receiver's basic credentials. */
export interface WebhookRequest {
  subscriptionUrl: string;
  httpAuthUser: string;
  httpAuthPassword: string;
  name: string;
}

/** Pipedrive has no such record (404): a webhook already removed, for one. */
export class PipedriveNotFoundError extends Error {
  override name = 'PipedriveNotFoundError';
}

/** Pipedrive refused the request itself (400): a parameter it does not take, a cursor it no longer knows. */
export class PipedriveBadRequestError extends Error {
  override name = 'PipedriveBadRequestError';
}

type Sdk = typeof import('pipedrive');
let sdk: Sdk | undefined;

/**
 * The official client, loaded on first use: its generated modules take about 1.5 s to load (v1
 * and v2 together, measured on this machine), which every process and test file importing the
 * registry would otherwise pay whether it ever calls Pipedrive or not.
 */
function pipedriveSdk(): Sdk {
  sdk ??= createRequire(import.meta.url)('pipedrive') as Sdk;
  return sdk;
}

/** A token's name in limiter keys and caches, which never says the token: 128 bits of its SHA-256. */
export const tokenKey = (token: string): string => `pd:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}`;

/** An answer that was not a success, with what the rate limits and error mapping need of it. */
class HttpFailure {
  constructor(
    readonly status: number,
    readonly headers: HeaderBag,
    readonly body: unknown,
  ) {}
}

/** A request that got no answer, by the kind of failure alone (an axios error's message names the URL). */
class NoAnswer {
  constructor(readonly kind: string | undefined) {}
}

interface AxiosLike {
  interceptors: {
    request: { use(onFulfilled: (config: { timeout?: number }) => unknown): number };
    response: { clear(): void; use(onFulfilled: (res: RawResponse) => unknown, onRejected: (err: unknown) => unknown): number };
  };
}

interface RawResponse {
  status: number;
  headers: HeaderBag & { toJSON?: () => HeaderBag };
  data: unknown;
}

const plain = (h: RawResponse['headers'] | undefined): HeaderBag => (h && typeof h.toJSON === 'function' ? h.toJSON() : (h ?? {}));

/**
 * Pipedrive's API through its official client (`pipedrive` 33: v1 for users/me, v2 for persons and
 * organizations), for one user's API token, which the client sends in the `x-api-token` header,
 * never in a URL. The client's answers are bodies only (its interceptors drop the status and
 * headers); ours replace them so that every answer's rate-limit headers reach the limiter and a
 * failure keeps its status. Failures become the CRM errors the ingest code acts on, whose messages
 * never carry the token or the address.
 */
export class PipedriveApi {
  private readonly users: v1.UsersApi;
  private readonly persons: v2.PersonsApi;
  private readonly orgs: v2.OrganizationsApi;
  private readonly hooks: v1.WebhooksApi;
  private readonly key: string;

  constructor(
    token: string,
    private readonly options: PipedriveClientOptions,
    /** The company, once known: whose daily budget the answers report. */
    private readonly account?: string,
  ) {
    this.key = tokenKey(token);
    const base = options.baseUrl.replace(/\/+$/, '');
    const { v1, v2 } = pipedriveSdk();
    const config1 = new v1.Configuration({ apiKey: token, basePath: `${base}/v1` });
    const config2 = new v2.Configuration({ apiKey: token, basePath: `${base}/api/v2` });
    this.users = this.instrument(new v1.UsersApi(config1));
    this.persons = this.instrument(new v2.PersonsApi(config2));
    this.orgs = this.instrument(new v2.OrganizationsApi(config2));
    this.hooks = this.instrument(new v1.WebhooksApi(config1));
  }

  /** GET /v1/users/me: the token's company. Any working token may call it. */
  async currentUser(spend?: CallBudget): Promise<PipedriveCompany> {
    const body = await this.call('users.me', () => this.users.getCurrentUser(), spend);
    const data = body?.data;
    if (typeof data?.company_id !== 'number' && typeof data?.company_id !== 'string') throw new CrmUnavailableError('Pipedrive users/me carries no company_id');
    return {
      companyId: String(data.company_id),
      companyName: typeof data.company_name === 'string' && data.company_name.trim() !== '' ? data.company_name.trim() : `Pipedrive ${data.company_id}`,
      companyDomain: typeof data.company_domain === 'string' ? data.company_domain : undefined,
    };
  }

  /** GET /api/v2/persons. */
  async listPersons(q: PersonsQuery, spend?: CallBudget): Promise<ListPage<PipedrivePerson>> {
    const body = await this.call(
      'persons.list',
      () =>
        this.persons.getPersons({
          limit: q.limit,
          ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
          ...(q.ids === undefined ? {} : { ids: q.ids.join(',') }),
          ...(q.sortBy === undefined ? {} : { sort_by: q.sortBy }),
          ...(q.sortDirection === undefined ? {} : { sort_direction: q.sortDirection }),
          ...(q.updatedSince === undefined ? {} : { updated_since: q.updatedSince }),
          ...(q.orgId === undefined ? {} : { org_id: q.orgId }),
        }),
      spend,
    );
    return page(body as { data?: PipedrivePerson[] | null; additional_data?: { next_cursor?: string | null } | null });
  }

  /** GET /api/v2/organizations (`ids`: at most 100). */
  async listOrganizations(q: OrganizationsQuery): Promise<ListPage<PipedriveOrganization>> {
    const body = await this.call('organizations.list', () =>
      this.orgs.getOrganizations({
        limit: q.limit,
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
        ...(q.ids === undefined ? {} : { ids: q.ids.join(',') }),
        ...(q.updatedSince === undefined ? {} : { updated_since: q.updatedSince }),
        ...(q.sortBy === undefined ? {} : { sort_by: q.sortBy }),
        ...(q.sortDirection === undefined ? {} : { sort_direction: q.sortDirection }),
      }),
    );
    return page(body as { data?: PipedriveOrganization[] | null; additional_data?: { next_cursor?: string | null } | null });
  }

  /** GET /v1/webhooks: the company's webhooks the token's user may see. */
  async listWebhooks(): Promise<PipedriveWebhook[]> {
    const body = await this.call('webhooks.list', () => this.hooks.getWebhooks());
    const data = (body as { data?: unknown } | undefined)?.data;
    return Array.isArray(data) ? (data as PipedriveWebhook[]).filter((w) => typeof w?.id === 'number') : [];
  }

  /** POST /v1/webhooks: every action on persons, version 2.0; the new webhook's id. */
  async addWebhook(req: WebhookRequest): Promise<number> {
    const body = await this.call('webhooks.add', () =>
      this.hooks.addWebhook({
        AddWebhookRequest: {
          subscription_url: req.subscriptionUrl,
          event_action: '*',
          event_object: 'person',
          name: req.name,
          version: '2.0',
          http_auth_user: req.httpAuthUser,
          http_auth_password: req.httpAuthPassword,
        },
      }),
    );
    const id = (body as { data?: { id?: unknown } } | undefined)?.data?.id;
    if (typeof id !== 'number') throw new CrmUnavailableError('Pipedrive answered a webhook without an id');
    return id;
  }

  /** DELETE /v1/webhooks/:id; PipedriveNotFoundError when it is already gone. */
  async deleteWebhook(id: number): Promise<void> {
    await this.call('webhooks.delete', () => this.hooks.deleteWebhook({ id }));
  }

  private async call<T>(endpoint: PipedriveEndpoint, send: () => Promise<T>, spend: CallBudget = {}): Promise<T> {
    const { limits } = this.options;
    await limits.limiter.acquireAll([{ key: this.key, windows: limits.windows(this.key) }, ...(spend.also ?? [])], spend.deadline);
    try {
      const result = await send();
      this.options.onResponse?.(endpoint, 200);
      return result;
    } catch (err) {
      if (err instanceof HttpFailure) {
        limits.observe(this.key, err.headers, this.account);
        this.options.onResponse?.(endpoint, err.status);
        throw this.translate(err);
      }
      this.options.onResponse?.(endpoint, 0);
      if (err instanceof NoAnswer) throw new CrmUnavailableError(`Pipedrive unreachable${err.kind ? ` (${err.kind})` : ''}`);
      throw new CrmUnavailableError('Pipedrive unreachable');
    }
  }

  private translate(failure: HttpFailure): Error {
    const { status, body } = failure;
    if (status === 401 || status === 403) return new CrmUnauthorizedError(`Pipedrive refused the credentials (${status})`);
    if (status === 429) {
      const waitMs = this.options.limits.tooMany(this.key, failure.headers);
      return new CrmRateLimitedError(waitMs, `Pipedrive rate limit; retry in ${waitMs} ms`);
    }
    if (status >= 500) return new CrmUnavailableError(`Pipedrive answered ${status}`, status);
    const error = (body as { error?: unknown } | null)?.error;
    // Pipedrive's own words (a 400's validation message) are kept, but never a URL.
    const said = typeof error === 'string' ? `: ${error.slice(0, 200).replace(/https?:\/\/\S+/g, '[url]')}` : '';
    if (status === 404) return new PipedriveNotFoundError(`Pipedrive answered 404${said}`);
    return status === 400 ? new PipedriveBadRequestError(`Pipedrive answered 400${said}`) : new Error(`Pipedrive answered ${status}${said}`);
  }

  /**
   * The generated API classes keep their axios instance to themselves (protected); its response
   * interceptors are replaced by ours, and every request gets our timeout.
   */
  private instrument<A extends object>(api: A): A {
    const axios = (api as unknown as { axios: AxiosLike }).axios;
    axios.interceptors.request.use((config) => {
      config.timeout = this.options.timeoutMs;
      return config;
    });
    axios.interceptors.response.clear();
    axios.interceptors.response.use(
      (res) => {
        this.options.limits.observe(this.key, plain(res.headers), this.account);
        return res.data;
      },
      (err) => {
        const res = (err as { response?: RawResponse } | null)?.response;
        if (res && typeof res.status === 'number') return Promise.reject(new HttpFailure(res.status, plain(res.headers), res.data));
        const code = (err as { code?: unknown } | null)?.code;
        return Promise.reject(new NoAnswer(typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code) ? code : undefined));
      },
    );
    return api;
  }
}

function page<T>(body: { data?: T[] | null; additional_data?: { next_cursor?: string | null } | null } | undefined): ListPage<T> {
  const next = body?.additional_data?.next_cursor;
  return { data: Array.isArray(body?.data) ? body.data : [], nextCursor: typeof next === 'string' && next !== '' ? next : undefined };
}
