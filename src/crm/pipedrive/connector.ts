import type { CountryCode } from 'libphonenumber-js/max';
import {
  CONTACTS_READ,
  type Connector,
  type ConnectorAccount,
  type ConnectorModule,
  type ConnectorPage,
  type CrmAccount,
  type DailyBudget,
  type LiveIdsPage,
  type WebhookTarget,
} from '../connector.js';
import { CrmRateLimitedError, CrmUnauthorizedError } from '../errors.js';
import { RollingWindowLimiter, type RateBudget } from '../rate-limiter.js';
import type { MirrorChange } from '../../mirror/writer.js';
import { PipedriveAuthSchema, pipedriveToken } from './auth.js';
import { PipedriveApi, PipedriveBadRequestError, PipedriveNotFoundError, tokenKey, type ListPage, type PipedriveEndpoint, type PipedriveOrganization } from './client.js';
import { mapPipedrivePerson, PipedriveMappingError, type PipedrivePerson } from './mapping.js';
import { PipedriveRateLimits } from './rate-limit.js';
import { personEvents } from './webhook-events.js';

export interface PipedriveConnectorOptions {
  baseUrl: string;
  timeoutMs: number;
  /** An incremental pass re-reads this many seconds behind a watermark that is this recent. */
  overlapSeconds: number;
  defaultRegion: CountryCode;
  limits: PipedriveRateLimits;
  /** Below this many requests left in the company's day, one incremental pass per `lowBudgetIntervalMs` (0: never slowed). */
  lowBudgetRequests: number;
  lowBudgetIntervalMs: number;
  /** users/me calls per rolling 10 s for tokens whose company is not known yet, every token together (20 by default). */
  verifyTenSecondLimit?: number;
  /** The longest a verification waits for rate budget (5000 ms by default); then CrmRateLimitedError. */
  verifyMaxWaitMs?: number;
  onResponse?: (endpoint: PipedriveEndpoint, status: number) => void;
  now?: () => number;
}

/** Pipedrive's largest page, and the most ids one organizations call may name. */
export const PAGE_SIZE = 500;
export const ORG_IDS_PER_CALL = 100;
/** Companies whose subdomain is remembered, and tokens whose company is, at most. */
const KNOWN_MAX = 10_000;

/** Where a backfill stands: Pipedrive's own cursor into `sort_by=id`; `done` once it has none. */
export interface BackfillCursor {
  after?: string;
  done?: boolean;
}

/**
 * Where incremental passes stand, in epoch seconds (Pipedrive's `update_time` precision): every
 * person with update_time < t has been read, and every organization with update_time < orgT has
 * had its persons re-mapped. The second t itself is always re-read (`updated_since` is inclusive
 * and a pass can end inside a crowded second); unchanged persons cost the mirror nothing.
 * `readAt` (ms) is when the pass that wrote the cursor ran, present while that was within the
 * overlap of t or orgT: writes that land late may then still be missing, and the next pass
 * re-reads the overlap however late it starts.
 */
export interface ChangesCursor {
  t: number;
  orgT: number;
  readAt?: number;
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** An update_time → epoch seconds; undefined when it is not a time. */
function seconds(time: string | null | undefined): number | undefined {
  const ms = typeof time === 'string' ? Date.parse(time) : NaN;
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * Pipedrive behind the Connector seam, polling API v2. Talkdesk's `auth` for this integration is
 * `{ "api_token": "<a Pipedrive user's API token>" }`; the tenant is the user's company.
 */
export class PipedriveConnector implements Connector {
  readonly kind = 'pipedrive';
  readonly authSchema = PipedriveAuthSchema;
  private readonly now: () => number;
  private readonly domains = new Map<string, string | undefined>();
  private readonly companyOfToken = new Map<string, string>();
  private readonly lowBudgetPassAt = new Map<string, number>();
  private readonly unknownCompanyCap: RateBudget;

  constructor(private readonly options: PipedriveConnectorOptions) {
    this.now = options.now ?? Date.now;
    this.unknownCompanyCap = { key: 'pd:verify:unknown-company', windows: [{ limit: options.verifyTenSecondLimit ?? 20, ms: 10_000 }] };
  }

  /**
   * `GET /v1/users/me` names the token's company (and its subdomain, for the persons' links); `GET
   * /api/v2/persons?limit=1` proves the token may read persons. A token is one user's, and
   * Pipedrive's visibility settings may hide persons from a user: the README asks for an admin's.
   * users/me of a token whose company is not known yet also spends a small cap shared by every
   * such token, and no wait for budget ends later than `verifyMaxWaitMs` after the start.
   */
  async verify(auth: Record<string, unknown>): Promise<CrmAccount> {
    const token = pipedriveToken(auth);
    if (token === undefined) throw new CrmUnauthorizedError('auth is not a Pipedrive api_token');
    const deadline = this.options.limits.limiter.now() + (this.options.verifyMaxWaitMs ?? 5_000);
    const known = this.companyOfToken.has(tokenKey(token));
    const company = await new PipedriveApi(token, this.options).currentUser({ also: known ? [] : [this.unknownCompanyCap], deadline });
    this.remember(this.companyOfToken, tokenKey(token), company.companyId);
    this.remember(this.domains, company.companyId, company.companyDomain);
    await new PipedriveApi(token, this.options, company.companyId).listPersons({ limit: 1 }, { deadline });
    return { accountId: company.companyId, accountName: company.companyName, allows: [CONTACTS_READ] };
  }

  /** Every person the token sees, by id, 500 a page, each page's organizations looked up once. */
  async *backfill(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    const start = cursor as BackfillCursor | undefined;
    if (start?.done) return;
    const api = this.api(account);
    const domain = await this.domain(account, api);
    for await (const { page, after } of this.byId(api, start?.after)) {
      const orgs = await this.orgNames(api, page.data);
      yield { changes: this.map(page.data, domain, (p) => orgs.get(p.org_id ?? -1)), cursor: after === undefined ? { done: true } : { after } };
    }
  }

  /**
   * Persons by id, 500 a page, from the stored cursor `after`, each page with the cursor of the
   * next (undefined on the last). Pipedrive's cursors are opaque and need not outlive a pause (a
   * tenant paused for days, an upgrade): a stored one it refuses restarts from the first page,
   * which costs reads the mirror skips as unchanged, where retrying it would never end.
   */
  private async *byId(api: PipedriveApi, after: string | undefined): AsyncIterable<{ page: ListPage<PipedrivePerson>; after: string | undefined }> {
    let resumed = after !== undefined;
    for (;;) {
      let page: ListPage<PipedrivePerson>;
      try {
        page = await api.listPersons({ limit: PAGE_SIZE, sortBy: 'id', ...(after === undefined ? {} : { cursor: after }) });
      } catch (err) {
        if (!(resumed && err instanceof PipedriveBadRequestError)) throw err;
        resumed = false;
        after = undefined;
        continue;
      }
      resumed = false;
      after = page.nextCursor;
      yield { page, after };
      if (after === undefined) return;
    }
  }

  /**
   * One incremental pass: persons by `update_time` from the watermark's second (inclusive), then
   * the persons of every organization changed since orgT, re-mapped (a renamed organization changes
   * its persons' company without touching them). While the daily budget is low, at most one pass
   * per `lowBudgetIntervalMs`: the others are delayed (CrmRateLimitedError), this tenant's alone.
   */
  async *changes(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    this.checkDailyBudget(account.accountId);
    const api = this.api(account);
    const domain = await this.domain(account, api);
    const nowMs = this.now();
    const start = (cursor as ChangesCursor | undefined) ?? this.changesCursorAt(nowMs);
    const overlapMs = this.options.overlapSeconds * 1000;
    const readAt = start.readAt ?? nowMs;
    const from = (t: number) => (readAt - t * 1000 < overlapMs ? t - this.options.overlapSeconds : t);
    let { t, orgT } = start;
    const stamped = (): ChangesCursor => (nowMs - Math.min(t, orgT) * 1000 < overlapMs ? { t, orgT, readAt: nowMs } : { t, orgT });

    const since = iso(from(start.t));
    let after: string | undefined;
    do {
      const page = await api.listPersons({ limit: PAGE_SIZE, sortBy: 'update_time', sortDirection: 'asc', updatedSince: since, ...(after === undefined ? {} : { cursor: after }) });
      const orgs = await this.orgNames(api, page.data);
      // Ascending by update_time: everything before the page's newest second has been read.
      for (const p of page.data) t = Math.max(t, seconds(p.update_time) ?? t);
      after = page.nextCursor;
      yield { changes: this.map(page.data, domain, (p) => orgs.get(p.org_id ?? -1)), cursor: stamped() };
    } while (after !== undefined);

    const orgSince = iso(from(start.orgT));
    let orgAfter: string | undefined;
    do {
      const page = await api.listOrganizations({ limit: PAGE_SIZE, sortBy: 'update_time', sortDirection: 'asc', updatedSince: orgSince, ...(orgAfter === undefined ? {} : { cursor: orgAfter }) });
      for (const org of page.data) {
        let personsAfter: string | undefined;
        do {
          const persons = await api.listPersons({ limit: PAGE_SIZE, sortBy: 'id', orgId: org.id, ...(personsAfter === undefined ? {} : { cursor: personsAfter }) });
          personsAfter = persons.nextCursor;
          yield { changes: this.map(persons.data, domain, () => orgName(org)), cursor: stamped() };
        } while (personsAfter !== undefined);
      }
      // Only once every organization of the page has had its persons re-mapped does orgT move.
      for (const org of page.data) orgT = Math.max(orgT, seconds(org.update_time) ?? orgT);
      orgAfter = page.nextCursor;
      if (page.data.length > 0) yield { changes: [], cursor: stamped() };
    } while (orgAfter !== undefined);
  }

  /**
   * Every live person's id, by `sort_by=id`, 500 a page. API v2 has no field selector for its
   * default fields (`include_fields` and `custom_fields` only add), so the fewest fields is the
   * default set with neither; no organization is looked up. A stored cursor Pipedrive refuses
   * restarts the listing from the first page: the ids seen so far stay seen, and a listing that
   * then reaches its end is still complete.
   */
  async *liveIds(account: ConnectorAccount, cursor: unknown): AsyncIterable<LiveIdsPage> {
    const api = this.api(account);
    for await (const { page, after } of this.byId(api, (cursor as BackfillCursor | undefined)?.after)) {
      const ids: string[] = [];
      for (const p of page.data) {
        const id = typeof p.id === 'number' && Number.isSafeInteger(p.id) ? String(p.id) : typeof p.id === 'string' ? p.id.trim() : '';
        if (id !== '') ids.push(id);
      }
      yield { ids, cursor: after === undefined ? { done: true } : { after }, done: after === undefined };
    }
  }

  /**
   * Pipedrive's lists leave deleted and merged-away persons out, and it lists no deleted persons:
   * they are found by the deletion sweep (liveIds). This pass finds none.
   */
  // eslint-disable-next-line require-yield
  async *deletions(): AsyncIterable<ConnectorPage> {
    return;
  }

  changesCursorAt(startedAtMs: number): ChangesCursor {
    const t = Math.floor(startedAtMs / 1000);
    return { t, orgT: t };
  }

  /** Requests left in the company's day as Pipedrive last said (for the metric bridge_crm_budget_remaining). */
  dailyBudgetLeft(accountId: string): number | undefined {
    return this.options.limits.dailyBudgetLeft(accountId);
  }

  private checkDailyBudget(accountId: string): void {
    const { lowBudgetRequests, lowBudgetIntervalMs } = this.options;
    const left = this.options.limits.dailyBudgetLeft(accountId);
    if (lowBudgetRequests <= 0 || left === undefined || left >= lowBudgetRequests) {
      this.lowBudgetPassAt.delete(accountId);
      return;
    }
    const now = this.now();
    const last = this.lowBudgetPassAt.get(accountId);
    if (last !== undefined && now - last < lowBudgetIntervalMs) {
      const wait = lowBudgetIntervalMs - (now - last);
      throw new CrmRateLimitedError(wait, `Pipedrive daily budget low (${left} requests left); next pass in ${wait} ms`);
    }
    this.remember(this.lowBudgetPassAt, accountId, now);
  }

  /**
   * Webhook events → mirror changes. Every person an event names (a merge's survivor too) is read
   * again, 100 ids a call: created and changed ones are written as Pipedrive has them now (with
   * their update_time, so the writer never puts them over a newer version); a deleted one is
   * tombstoned only if Pipedrive no longer lists it, so a late or repeated delete cannot undo a
   * later restore. A person an event names that the read does not return, other than a deleted
   * one, is left to polling (it may be hidden from the token's user, or deleted since).
   */
  async webhookChanges(account: ConnectorAccount, events: readonly unknown[]): Promise<MirrorChange[]> {
    const parsed = personEvents(events, account.accountId);
    if (parsed.length === 0) return [];
    const ids = new Set<number>();
    const deleted = new Set<number>();
    for (const e of parsed) {
      ids.add(e.personId);
      if (e.action === 'delete') deleted.add(e.personId);
      if (e.mergedToId !== undefined) ids.add(e.mergedToId);
    }
    const api = this.api(account);
    const domain = await this.domain(account, api);
    const wanted = [...ids];
    const found: PipedrivePerson[] = [];
    for (let i = 0; i < wanted.length; i += ORG_IDS_PER_CALL) {
      const chunk = wanted.slice(i, i + ORG_IDS_PER_CALL);
      found.push(...(await api.listPersons({ ids: chunk, limit: chunk.length })).data);
    }
    const orgs = await this.orgNames(api, found);
    const live = new Set(found.map((p) => p.id));
    const tombstones: MirrorChange[] = [...deleted].filter((id) => !live.has(id)).map((id) => ({ id: String(id), deleted: true }));
    return [...this.map(found, domain, (p) => orgs.get(p.org_id ?? -1)), ...tombstones];
  }

  /** Subscribes every person event (version 2.0) to the target, adopting one to the same URL already there. */
  async subscribeWebhooks(account: ConnectorAccount, target: WebhookTarget): Promise<string> {
    const api = this.api(account);
    const existing = (await api.listWebhooks()).find((w) => w.subscription_url === target.url);
    if (existing) return String(existing.id);
    const id = await api.addWebhook({ subscriptionUrl: target.url, httpAuthUser: target.user, httpAuthPassword: target.password, name: 'Talkdesk contact bridge' });
    return String(id);
  }

  /** Removes the webhook, and any other to the same URL (one whose answer was lost); gone already is fine. */
  async unsubscribeWebhooks(account: ConnectorAccount, subscription: { url: string; crmWebhookId: string | null }): Promise<void> {
    const api = this.api(account);
    const ids = new Set<number>((await api.listWebhooks()).filter((w) => w.subscription_url === subscription.url).map((w) => w.id));
    if (subscription.crmWebhookId !== null && /^\d{1,15}$/.test(subscription.crmWebhookId)) ids.add(Number(subscription.crmWebhookId));
    for (const id of ids) {
      await api.deleteWebhook(id).catch((err: unknown) => {
        if (!(err instanceof PipedriveNotFoundError)) throw err;
      });
    }
  }

  /** What Pipedrive last said of the company's day; low below `lowBudgetRequests`, when polling is slowed. */
  dailyBudget(accountId: string): DailyBudget | undefined {
    const left = this.options.limits.dailyBudgetLeft(accountId);
    if (left === undefined) return undefined;
    return { left, low: this.options.lowBudgetRequests > 0 && left < this.options.lowBudgetRequests };
  }

  /** The names of the organizations a page's persons belong to: one call per 100 distinct ids. */
  private async orgNames(api: PipedriveApi, persons: readonly PipedrivePerson[]): Promise<Map<number, string | undefined>> {
    const ids = [...new Set(persons.map((p) => p.org_id).filter((id): id is number => typeof id === 'number' && Number.isSafeInteger(id)))];
    const names = new Map<number, string | undefined>();
    for (let i = 0; i < ids.length; i += ORG_IDS_PER_CALL) {
      const chunk = ids.slice(i, i + ORG_IDS_PER_CALL);
      const page = await api.listOrganizations({ ids: chunk, limit: chunk.length });
      for (const org of page.data) names.set(org.id, orgName(org));
    }
    return names;
  }

  private map(persons: readonly PipedrivePerson[], domain: string | undefined, org: (p: PipedrivePerson) => string | undefined): MirrorChange[] {
    const out: MirrorChange[] = [];
    for (const person of persons) {
      try {
        const contact = mapPipedrivePerson(person, { companyDomain: domain, orgName: org(person), defaultRegion: this.options.defaultRegion });
        const at = seconds(person.update_time);
        out.push(at === undefined ? contact : { ...contact, source_updated_at: new Date(at * 1000).toISOString() });
      } catch (err) {
        // A person whose id cannot be stored cannot be mirrored; the rest of the page can.
        if (!(err instanceof PipedriveMappingError)) throw err;
      }
    }
    return out;
  }

  /** The company's subdomain, for the persons' links: remembered from verification, else asked once. */
  private async domain(account: ConnectorAccount, api: PipedriveApi): Promise<string | undefined> {
    if (this.domains.has(account.accountId)) return this.domains.get(account.accountId);
    const company = await api.currentUser();
    this.remember(this.domains, account.accountId, company.companyDomain);
    return company.companyDomain;
  }

  private api(account: ConnectorAccount): PipedriveApi {
    const token = pipedriveToken(account.auth);
    if (token === undefined) throw new CrmUnauthorizedError('auth is not a Pipedrive api_token');
    return new PipedriveApi(token, this.options, account.accountId);
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > KNOWN_MAX) map.delete(map.keys().next().value!);
  }
}

const orgName = (org: PipedriveOrganization): string | undefined => (typeof org.name === 'string' ? org.name : undefined);

export const pipedrive: ConnectorModule = {
  kind: 'pipedrive',
  talkdeskForm: {
    displayName: 'Pipedrive contacts',
    description: 'Identifies callers from your Pipedrive persons: names, organizations, emails and phone numbers, kept in sync every few minutes.',
    fields: [
      {
        name: 'api_token',
        displayName: 'Pipedrive API token',
        helpText:
          "In Pipedrive, open your profile menu → Personal preferences → API (or https://app.pipedrive.com/settings/api) and paste Your personal API token here. Use an admin's token: Pipedrive's visibility settings hide some persons from other users, and callers would not be identified from them.",
      },
    ],
  },
  create: (config, hooks) =>
    new PipedriveConnector({
      baseUrl: config.PIPEDRIVE_BASE_URL,
      timeoutMs: config.PIPEDRIVE_REQUEST_TIMEOUT_MS,
      overlapSeconds: config.PIPEDRIVE_OVERLAP_SECONDS,
      defaultRegion: config.DEFAULT_PHONE_REGION as CountryCode,
      limits: new PipedriveRateLimits(new RollingWindowLimiter()),
      lowBudgetRequests: config.PIPEDRIVE_LOW_BUDGET_REQUESTS,
      lowBudgetIntervalMs: config.PIPEDRIVE_LOW_BUDGET_INTERVAL_SECONDS * 1000,
      onResponse: hooks.onResponse,
    }),
};
