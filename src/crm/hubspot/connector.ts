import type { CountryCode } from 'libphonenumber-js/max';
import { CONTACTS_READ, type Connector, type ConnectorAccount, type ConnectorModule, type ConnectorPage, type CrmAccount, type LiveIdsPage } from '../connector.js';
import { CrmUnauthorizedError } from '../errors.js';
import { budget, RollingWindowLimiter, type RateBudget } from '../rate-limiter.js';
import type { MirrorChange } from '../../mirror/writer.js';
import { HubSpotAuthSchema, hubspotToken, isHubSpotToken, tokenFingerprint } from './auth.js';
import { BATCH_READ_MAX_IDS, HubSpotApi, type HubSpotEndpoint, type HubSpotRecord } from './client.js';
import { HubSpotMappingError, mapHubSpotContact } from './mapping.js';
import { HUBSPOT_ARCHIVED_READ_PROPERTIES, HUBSPOT_READ_PROPERTIES, mergeTombstones } from './merges.js';
import { modifiedAt, searchPass, type SearchCursor, type SearchRequest } from './search-pass.js';
import { webhookTargets, withErasures } from './webhook-events.js';

export interface HubSpotConnectorOptions {
  baseUrl: string;
  timeoutMs: number;
  tenSecondLimit: number;
  searchPerSecondLimit: number;
  overlapSeconds: number;
  defaultRegion: CountryCode;
  limiter: RollingWindowLimiter;
  /**
   * Account-details calls per rolling 10 s for tokens whose portal is not known yet, every token
   * together (20 by default): what unknown credentials can make the bridge send HubSpot.
   */
  verifyTenSecondLimit?: number;
  /** The longest a verification waits for rate budget (5000 ms by default); then CrmRateLimitedError. */
  verifyMaxWaitMs?: number;
  onResponse?: (endpoint: HubSpotEndpoint, status: number) => void;
  now?: () => number;
}

export { HubSpotAuthSchema };

/** Tokens whose portal a verification has learned, at most this many (the oldest are forgotten first). */
const KNOWN_TOKENS_MAX = 10_000;

/** Backfill and deletion scans page the list endpoint; `done` marks a pass that has finished. */
interface ListCursor {
  after?: string;
  done?: boolean;
}

/**
 * HubSpot CRM v3 behind the Connector seam. Talkdesk's `auth` for this integration is
 * `{ "access_token": "<private app token>" }` (scope crm.objects.contacts.read).
 */
export class HubSpotConnector implements Connector {
  readonly kind = 'hubspot';
  readonly authSchema = HubSpotAuthSchema;
  private readonly now: () => number;
  /** Token fingerprint → portal id. A token belongs to one portal for life, so this never goes stale. */
  private readonly portalOfToken = new Map<string, string>();
  private readonly unknownAccountCap: RateBudget;

  constructor(private readonly options: HubSpotConnectorOptions) {
    this.now = options.now ?? Date.now;
    this.unknownAccountCap = { key: 'verify:unknown-account', windows: [{ limit: options.verifyTenSecondLimit ?? 20, ms: 10_000 }] };
  }

  /**
   * Proves the token can do what ingest does, and names its portal: `GET
   * /account-info/v3/details` (which any token of the portal passes, whatever its scopes) for the
   * portal id, then one contact read (`GET /crm/v3/objects/contacts?limit=1`), which a token
   * without contact-read access fails with 403 MISSING_SCOPES.
   *
   * Budgets, so that one account's flood delays no other account's verification:
   * - the account-details call spends the token's own key (a 429 pauses that token alone) and a
   *   small cap shared by every token whose portal is not known yet; a token verified before
   *   skips it (its portal is remembered);
   * - the contact read spends the portal's own budget (shared with its ingest; a 429 pauses that
   *   portal alone) and at most a tenth of it, so that validations cannot starve its ingest;
   * - no wait for budget ends later than `verifyMaxWaitMs` after the verification began: past
   *   that it is CrmRateLimitedError at once, with the wait (a 503 with Retry-After upstream).
   */
  async verify(auth: Record<string, unknown>): Promise<CrmAccount> {
    // Registry lookups check the shape first; a tenant's stored auth (a known tenant's
    // re-verification) or an operator's reaches here directly, and is held to the same shape.
    const token = hubspotToken(auth);
    if (token === undefined) throw new CrmUnauthorizedError('auth is not a HubSpot access_token');
    const deadline = this.options.limiter.now() + (this.options.verifyMaxWaitMs ?? 5_000);
    const tokenKey = `token:${tokenFingerprint(token)}`;
    let portalId = this.portalOfToken.get(tokenKey);
    if (portalId === undefined) {
      ({ portalId } = await new HubSpotApi(token, tokenKey, this.options).accountDetails({ also: [this.unknownAccountCap], deadline }));
      this.rememberPortal(tokenKey, portalId);
    }
    const verifications: RateBudget = {
      key: `${portalId}:verify`,
      windows: [{ limit: Math.max(1, Math.floor(budget(this.options.tenSecondLimit) / 10)), ms: 10_000 }],
    };
    await new HubSpotApi(token, portalId, this.options).readsContacts({ also: [verifications], deadline });
    return { accountId: portalId, accountName: `HubSpot ${portalId}`, allows: [CONTACTS_READ] };
  }

  async *backfill(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    yield* this.listPass(account, cursor as ListCursor | undefined, false);
  }

  async *deletions(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    yield* this.listPass(account, cursor as ListCursor | undefined, true);
  }

  /**
   * The live contacts' ids: the list endpoint (`archived=false`, 100 a page, by id) asking for
   * `hs_object_id` alone, since with no properties at all HubSpot answers its default set (name
   * and email among them), which the sweep has no use for. Spends the portal's budget as ingest does.
   */
  async *liveIds(account: ConnectorAccount, cursor: unknown): AsyncIterable<LiveIdsPage> {
    const api = this.api(account.auth, account.accountId);
    let after = (cursor as ListCursor | undefined)?.after;
    for (;;) {
      const page = await api.listContacts(['hs_object_id'], after, false);
      after = page.nextAfter;
      const ids = page.results.map((r) => r.id.trim()).filter((id) => id !== '');
      yield { ids, cursor: after === undefined ? { done: true } : { after }, done: after === undefined };
      if (after === undefined) return;
    }
  }

  async *changes(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    const api = this.api(account.auth, account.accountId);
    const start = (cursor as SearchCursor | undefined) ?? this.changesCursorAt(this.now());
    const search = (request: SearchRequest) => api.searchContacts(request, HUBSPOT_READ_PROPERTIES);
    for await (const page of searchPass(search, start, this.now(), this.options.overlapSeconds * 1000)) {
      yield { changes: this.map(account, page.records), cursor: page.cursor, total: page.total };
    }
  }

  /**
   * The current state of named contacts (what a webhook's events name), by batch reads of 100:
   * each found contact, a tombstone for every id HubSpot no longer has (archived, deleted for
   * privacy, never there) and for every id that now reads as another contact (merged into it),
   * and tombstones of what the found ones list as merged into them.
   */
  async reread(account: ConnectorAccount, ids: readonly string[]): Promise<MirrorChange[]> {
    const api = this.api(account.auth, account.accountId);
    const out: MirrorChange[] = [];
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += BATCH_READ_MAX_IDS) {
      const asked = unique.slice(i, i + BATCH_READ_MAX_IDS);
      const { results } = await api.readContacts(asked, HUBSPOT_READ_PROPERTIES);
      const mapped = this.map(account, results);
      // Found (mapped or not: an unmappable record is skipped, never tombstoned) or tombstoned already.
      const named = new Set([...results.map((r) => r.id), ...mapped.map((c) => c.id)]);
      // Not found and merged-away alike: the id asked for is no contact of its own any more.
      const gone = asked.filter((id) => !named.has(id)).map((id) => ({ id, deleted: true as const }));
      out.push(...mapped, ...gone);
    }
    return out;
  }

  /**
   * The changes a batch of webhook events (webhook-events.ts) asks for: the named contacts read
   * again with the batch read (the mapping's properties and the merged ids), privacy deletions erased.
   */
  async webhookChanges(account: ConnectorAccount, events: readonly unknown[]): Promise<MirrorChange[]> {
    const { reread, erase } = webhookTargets(events);
    return withErasures(reread.length > 0 ? await this.reread(account, reread) : [], erase);
  }

  changesCursorAt(startedAtMs: number): SearchCursor {
    return { t: startedAtMs, afterId: '0' };
  }

  private async *listPass(account: ConnectorAccount, cursor: ListCursor | undefined, archived: boolean): AsyncIterable<ConnectorPage> {
    if (cursor?.done) return;
    const api = this.api(account.auth, account.accountId);
    let after = cursor?.after;
    for (;;) {
      const page = await api.listContacts(archived ? HUBSPOT_ARCHIVED_READ_PROPERTIES : HUBSPOT_READ_PROPERTIES, after, archived);
      after = page.nextAfter;
      // An archived survivor still names what was merged into it: gone too, and listed nowhere else.
      const changes: MirrorChange[] = archived
        ? [...page.results.map((r) => ({ id: r.id, deleted: true as const })), ...mergeTombstones(page.results)]
        : this.map(account, page.results);
      yield { changes, cursor: after === undefined ? { done: true } : { after } };
      if (after === undefined) return;
    }
  }

  /** The page's contacts, then tombstones of the ids merged into them (see merges.ts). */
  private map(account: ConnectorAccount, records: HubSpotRecord[]): MirrorChange[] {
    const out: MirrorChange[] = [];
    for (const record of records) {
      try {
        const contact = mapHubSpotContact(record, { portalId: account.accountId, defaultRegion: this.options.defaultRegion });
        out.push({ ...contact, source_updated_at: new Date(modifiedAt(record)).toISOString() });
      } catch (err) {
        // A record whose id cannot be stored cannot be mirrored; the rest of the page can.
        if (!(err instanceof HubSpotMappingError)) throw err;
      }
    }
    out.push(...mergeTombstones(records));
    return out;
  }

  /**
   * The client for a tenant's stored credentials (verified when they were accepted). Tenants
   * onboarded before the auth schema held tokens to their shape may carry one with surrounding
   * whitespace, which was trimmed then too; anything else malformed is refused without a request.
   */
  private api(auth: Record<string, unknown>, limiterKey: string): HubSpotApi {
    const token = typeof auth.access_token === 'string' ? auth.access_token.trim() : undefined;
    if (!isHubSpotToken(token)) throw new CrmUnauthorizedError('auth is not a HubSpot access_token');
    return new HubSpotApi(token, limiterKey, this.options);
  }

  private rememberPortal(tokenKey: string, portalId: string): void {
    this.portalOfToken.delete(tokenKey);
    this.portalOfToken.set(tokenKey, portalId);
    if (this.portalOfToken.size > KNOWN_TOKENS_MAX) this.portalOfToken.delete(this.portalOfToken.keys().next().value!);
  }
}

export const hubspot: ConnectorModule = {
  kind: 'hubspot',
  talkdeskForm: {
    displayName: 'HubSpot contacts',
    description: 'Identifies callers from your HubSpot contacts: names, companies, emails and phone numbers, kept in sync every few minutes.',
    fields: [
      {
        name: 'access_token',
        displayName: 'HubSpot private app access token',
        helpText:
          'In HubSpot, open Settings → Integrations → Private Apps, create an app with the scope crm.objects.contacts.read, and paste its access token here. See https://developers.hubspot.com/docs/api/private-apps',
      },
    ],
  },
  oauthTalkdeskForm: {
    displayName: 'HubSpot contacts',
    description: 'Identifies callers from your HubSpot contacts: names, companies, emails and phone numbers, kept in sync every few minutes.',
    fields: [
      {
        name: 'connection_key',
        displayName: 'Connection key',
        helpText: "Open /connect/hubspot on this bridge, approve the app in HubSpot, then paste the connection key the bridge shows here.",
      },
    ],
  },
  create: (config, hooks) =>
    new HubSpotConnector({
      baseUrl: config.HUBSPOT_BASE_URL,
      timeoutMs: config.HUBSPOT_REQUEST_TIMEOUT_MS,
      tenSecondLimit: config.HUBSPOT_TEN_SECOND_LIMIT,
      searchPerSecondLimit: config.HUBSPOT_SEARCH_PER_SECOND_LIMIT,
      overlapSeconds: config.HUBSPOT_SEARCH_OVERLAP_SECONDS,
      defaultRegion: config.DEFAULT_PHONE_REGION as CountryCode,
      limiter: new RollingWindowLimiter(),
      verifyTenSecondLimit: config.HUBSPOT_VERIFY_TEN_SECOND_LIMIT,
      verifyMaxWaitMs: config.HUBSPOT_VERIFY_MAX_WAIT_MS,
      onResponse: hooks.onResponse,
    }),
};
