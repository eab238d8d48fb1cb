import type { CountryCode } from 'libphonenumber-js/max';
import { Type } from '@sinclair/typebox';
import type { Connector, ConnectorAccount, ConnectorModule, ConnectorPage, CrmAccount } from '../connector.js';
import { CrmUnauthorizedError } from '../errors.js';
import { RollingWindowLimiter } from '../rate-limiter.js';
import type { MirrorChange } from '../../mirror/writer.js';
import { HubSpotApi, type HubSpotEndpoint, type HubSpotRecord } from './client.js';
import { HUBSPOT_CONTACT_PROPERTIES, HubSpotMappingError, mapHubSpotContact } from './mapping.js';
import { modifiedAt, searchPass, type SearchCursor, type SearchRequest } from './search-pass.js';

export interface HubSpotConnectorOptions {
  baseUrl: string;
  timeoutMs: number;
  tenSecondLimit: number;
  searchPerSecondLimit: number;
  overlapSeconds: number;
  defaultRegion: CountryCode;
  limiter: RollingWindowLimiter;
  onResponse?: (endpoint: HubSpotEndpoint, status: number) => void;
  now?: () => number;
}

/** Talkdesk's `auth` for a HubSpot private app's token: exactly `{ "access_token": "…" }`. */
export const HubSpotAuthSchema = Type.Object({ access_token: Type.String({ minLength: 1 }) }, { additionalProperties: false });

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

  constructor(private readonly options: HubSpotConnectorOptions) {
    this.now = options.now ?? Date.now;
  }

  async verify(auth: Record<string, unknown>): Promise<CrmAccount> {
    // Before the portal is known, calls are limited under one shared key.
    const { portalId } = await this.api(auth, 'unverified').accountDetails();
    return { accountId: portalId, accountName: `HubSpot ${portalId}` };
  }

  async *backfill(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    yield* this.listPass(account, cursor as ListCursor | undefined, false);
  }

  async *deletions(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    yield* this.listPass(account, cursor as ListCursor | undefined, true);
  }

  async *changes(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage> {
    const api = this.api(account.auth, account.accountId);
    const start = (cursor as SearchCursor | undefined) ?? this.changesCursorAt(this.now());
    const search = (request: SearchRequest) => api.searchContacts(request, HUBSPOT_CONTACT_PROPERTIES);
    for await (const page of searchPass(search, start, this.now(), this.options.overlapSeconds * 1000)) {
      yield { changes: this.map(account, page.records), cursor: page.cursor, total: page.total };
    }
  }

  changesCursorAt(startedAtMs: number): SearchCursor {
    return { t: startedAtMs, afterId: '0' };
  }

  private async *listPass(account: ConnectorAccount, cursor: ListCursor | undefined, archived: boolean): AsyncIterable<ConnectorPage> {
    if (cursor?.done) return;
    const api = this.api(account.auth, account.accountId);
    let after = cursor?.after;
    for (;;) {
      const page = await api.listContacts(archived ? ['hs_object_id'] : HUBSPOT_CONTACT_PROPERTIES, after, archived);
      after = page.nextAfter;
      const changes: MirrorChange[] = archived
        ? page.results.map((r) => ({ id: r.id, deleted: true as const }))
        : this.map(account, page.results);
      yield { changes, cursor: after === undefined ? { done: true } : { after } };
      if (after === undefined) return;
    }
  }

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
    return out;
  }

  private api(auth: Record<string, unknown>, limiterKey: string): HubSpotApi {
    const token = auth.access_token;
    if (typeof token !== 'string' || token.trim() === '') {
      throw new CrmUnauthorizedError('auth carries no HubSpot access_token');
    }
    return new HubSpotApi(token.trim(), limiterKey, this.options);
  }
}

export const hubspot: ConnectorModule = {
  kind: 'hubspot',
  create: (config, hooks) =>
    new HubSpotConnector({
      baseUrl: config.HUBSPOT_BASE_URL,
      timeoutMs: config.HUBSPOT_REQUEST_TIMEOUT_MS,
      tenSecondLimit: config.HUBSPOT_TEN_SECOND_LIMIT,
      searchPerSecondLimit: config.HUBSPOT_SEARCH_PER_SECOND_LIMIT,
      overlapSeconds: config.HUBSPOT_SEARCH_OVERLAP_SECONDS,
      defaultRegion: config.DEFAULT_PHONE_REGION as CountryCode,
      limiter: new RollingWindowLimiter(),
      onResponse: hooks.onResponse,
    }),
};
