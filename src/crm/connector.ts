import type { TObject } from '@sinclair/typebox';
import type { Config } from '../config.js';
import type { MirrorChange } from '../mirror/writer.js';

/**
 * The seam between the ingest code and one CRM. The ingest code knows nothing of HubSpot: it
 * persists each page's cursor in the same transaction as the page's contacts, so a run killed
 * anywhere resumes from the last committed page. A second CRM is one new implementation.
 *
 * Cursors are JSON values only the connector reads; undefined means "from the beginning".
 * Errors are the classes of ./errors.ts.
 */
export interface Connector {
  /** The CRM's name, as tenants' `crm` column and the CRM setting spell it. */
  readonly kind: string;
  /**
   * The exact fields of the `auth` Talkdesk sends for this CRM's integration. Unknown credentials
   * are onboarded by the one connector whose shape they match; none: refused without a CRM call.
   */
  readonly authSchema: TObject;
  /**
   * Checks credentials against the CRM with a call that needs what ingest needs (reading
   * contacts) and names the account they belong to. CrmUnauthorizedError: refused, or without
   * that access; CrmUnavailableError / CrmRateLimitedError: cannot tell right now.
   */
  verify(auth: Record<string, unknown>): Promise<CrmAccount>;
  /** Every live record, page by page. */
  backfill(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage>;
  /** Records changed since the cursor (a watermark), page by page; `startedAt` seeds a first cursor. */
  changes(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage>;
  /** Tombstones for records deleted in the CRM, by a full scan of what it reports deleted. */
  deletions(account: ConnectorAccount, cursor: unknown): AsyncIterable<ConnectorPage>;
  /**
   * Every live record's id, page by page, in the CRM's fewest fields (the deletion sweep's
   * listing): a mirrored id missing from a listing that reached its end is a record the CRM no
   * longer has, though no list of deleted records names it (privacy deletions, purges, merges).
   * The last page has `done`. A connector whose deletions() finds every deletion need not have it.
   */
  liveIds?(account: ConnectorAccount, cursor: unknown): AsyncIterable<LiveIdsPage>;
  /**
   * Turns webhook events of one account (as the CRM sent them, already authenticated and routed
   * to this tenant) into mirror changes: the current state of the records they name, read from
   * the CRM, rather than the events' own values, since events arrive late, twice and out of
   * order. Each live change carries the CRM's modification time (`source_updated_at`), so the
   * writer never lets it replace a newer version. A connector without webhooks need not have it.
   */
  webhookChanges?(account: ConnectorAccount, events: readonly unknown[]): Promise<MirrorChange[]>;
  /**
   * Subscribes the account's record events to `target` at the CRM (CRMs whose webhooks are set up
   * per account, as Pipedrive's), or adopts a subscription to the same URL made by an attempt
   * that did not record its answer; the CRM's id of it.
   */
  subscribeWebhooks?(account: ConnectorAccount, target: WebhookTarget): Promise<string>;
  /** Removes the subscription (and any other to the same URL); one already gone is removed. */
  unsubscribeWebhooks?(account: ConnectorAccount, subscription: { url: string; crmWebhookId: string | null }): Promise<void>;
  /** The first cursor of `changes` for a backfill that starts now (changes during the backfill are caught). */
  changesCursorAt(startedAtMs: number): unknown;
  /**
   * The account's daily request budget as the CRM last stated it (undefined: it has not, or has
   * none); `low` while polling is slowed to spare it.
   */
  dailyBudget?(accountId: string): DailyBudget | undefined;
}

/** Where a CRM delivers a tenant's events, and the basic credentials it sends with them. */
export interface WebhookTarget {
  url: string;
  user: string;
  password: string;
}

export interface DailyBudget {
  left: number;
  low: boolean;
}

/** What ingest needs of credentials, as `CrmAccount.allows` names it: reading the account's contacts. */
export const CONTACTS_READ = 'contacts.read';

export interface CrmAccount {
  accountId: string;
  accountName: string;
  /** What the credentials were verified to allow (e.g. 'contacts.read'). */
  allows?: string[];
}

export interface ConnectorAccount {
  accountId: string;
  auth: Record<string, unknown>;
}

export interface ConnectorPage {
  changes: MirrorChange[];
  /** Where to resume after this page; persisted with the page's contacts. */
  cursor: unknown;
  /** How many records the whole pass will bring, when the CRM says. */
  total?: number;
}

export interface LiveIdsPage {
  /** Ids as the mapping stores them (the contacts' `id`). */
  ids: string[];
  /** Where to resume after this page; persisted with the page's ids. */
  cursor: unknown;
  /** The listing reached its end with this page. */
  done: boolean;
}

/** Calls a connector reports, for the metrics. */
export interface ConnectorHooks {
  onResponse?: (endpoint: string, status: number) => void;
}

/**
 * What Talkdesk shows a customer who sets up this CRM's integration: the form of the integration
 * document (`GET /talkdesk/integration.json?crm=<kind>`), one field per `auth` field.
 */
export interface TalkdeskForm {
  displayName: string;
  description: string;
  fields: ReadonlyArray<{ name: string; displayName: string; helpText: string }>;
}

/** A CRM the bridge can mirror: its folder under src/crm exports one of these. */
export interface ConnectorModule {
  readonly kind: string;
  readonly talkdeskForm: TalkdeskForm;
  /** The form when customers connect through the bridge's own OAuth app instead (a connection key). */
  readonly oauthTalkdeskForm?: TalkdeskForm;
  create(config: Config, hooks: ConnectorHooks): Connector;
}
