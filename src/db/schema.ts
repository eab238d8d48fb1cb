import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  integer,
} from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => 'bytea',
});

// Timestamps that take part in cursor keys are read as strings (mode: 'string'),
// never as a JavaScript Date, which would drop the microseconds the keys rely on.
const tstz = (name: string) => timestamp(name, { withTimezone: true, precision: 6, mode: 'string' });

export const tenantStatuses = ['awaiting_approval', 'backfilling', 'active', 'paused', 'credentials_failed', 'token_expired'] as const;
export type TenantStatus = (typeof tenantStatuses)[number];

export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    // 'push' for tenants fed through the admin API, or the CRM kind ('hubspot').
    crm: text('crm').notNull(),
    // The CRM's own account id (HubSpot portalId): a rotated token maps to the same tenant.
    crmAccountId: text('crm_account_id'),
    // The floor for the next write's updated_at; see mirror/writer.ts for the invariant.
    lastChangeAt: tstz('last_change_at').notNull().default(sql`'-infinity'`),
    status: text('status').$type<TenantStatus>().notNull().default('active'),
    backfillCompletedAt: tstz('backfill_completed_at'),
    createdAt: tstz('created_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('tenants_crm_account_key').on(t.crm, t.crmAccountId)],
);

// 'expired': a Talkdesk-managed OAuth access token HubSpot reports expired. Not a failure: it
// still answers syncs from the mirror, and the workers no longer read the CRM with it.
export const credentialStatuses = ['working', 'failed', 'expired'] as const;
export type CredentialStatus = (typeof credentialStatuses)[number];

/**
 * A tenant's credentials, plural: every Talkdesk integration that syncs the tenant (production and
 * sandbox accounts, a rotated token) brings its own, and each is one Talkdesk copy of the tenant.
 * A new credential never replaces a working one; the workers use the newest that works.
 */
export const credentials = pgTable(
  'credentials',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    // HMAC-SHA256 of the canonical auth object (tenants/auth-digest.ts): the lookup of every sync.
    digest: bytea('digest').notNull(),
    // The auth object, AES-256-GCM, bound to its tenant and CRM account (tenants/credential-cipher.ts).
    secret: text('secret').notNull(),
    // What an operator sees instead of the value: how it came, and a few characters of it.
    label: text('label').notNull(),
    // What the CRM showed it may do when it was verified (e.g. contacts.read); empty for pushed tenants.
    allows: text('allows').array().notNull().default(sql`'{}'::text[]`),
    status: text('status').$type<CredentialStatus>().notNull().default('working'),
    failure: text('failure'),
    createdAt: tstz('created_at').notNull().defaultNow(),
    verifiedAt: tstz('verified_at'),
    lastUsedAt: tstz('last_used_at'),
    failedAt: tstz('failed_at'),
    // This Talkdesk copy's deletion record: every tombstone with updated_at at or below this was
    // reflected in a full sync made with this credential. Another copy's full run says nothing of it.
    deletionsReflectedAt: tstz('deletions_reflected_at'),
    lastDeletionResyncAt: tstz('last_deletion_resync_at'),
    // What this copy is proven or known to hold, for operators (admin/contact-delivery.ts). Keys
    // as the cursor carries them: epoch microseconds and the id. Each only grows.
    // The largest key served to this copy in a page (handed out, not yet proven).
    handedOutUs: bigint('handed_out_us', { mode: 'bigint' }),
    handedOutId: text('handed_out_id'),
    // The largest checkpoint this copy sent back: Talkdesk sends one only after completing the
    // run that issued it, so every version at or below it is in the copy.
    confirmedUs: bigint('confirmed_us', { mode: 'bigint' }),
    confirmedId: text('confirmed_id'),
    // The start (newest key time, µs) of the latest full run whose checkpoint came back:
    // tombstones at or below it are proven gone from the copy (deletions_reflected_at says only
    // that the run's last page was served).
    deletionsConfirmedUs: bigint('deletions_confirmed_us', { mode: 'bigint' }),
    // When this copy last asked for a page (at most a minute old while it syncs).
    lastSyncAt: tstz('last_sync_at'),
  },
  (t) => [
    // The credential lookup on every sync request.
    uniqueIndex('credentials_digest_key').on(t.digest),
    // The workers' choice: the tenant's newest working credential.
    index('credentials_tenant').on(t.tenantId, t.createdAt),
  ],
);

export const contacts = pgTable(
  'contacts',
  {
    // No foreign key: its check, one lookup per inserted row, was a sixth of a bulk write. The
    // writer locks the tenant row before writing and errors when it is gone, and deleteTenant
    // (tenants/repository.ts) deletes the contacts under the same lock, so no contact outlives
    // its tenant.
    tenantId: uuid('tenant_id').notNull(),
    id: text('id').notNull(),
    name: text('name').notNull(),
    company: text('company'),
    title: text('title'),
    emails: text('emails').array(),
    phones: text('phones').array(),
    photoUrl: text('photo_url'),
    address: text('address'),
    websites: text('websites').array(),
    twitter: text('twitter'),
    url: text('url'),
    // The contact exactly as the sync endpoint answers it (JSON, absent fields left out), rendered
    // once by the writer: a page is then these strings joined, not a JSON document built per
    // row on every read. The columns above stay the contact's fields for everything else.
    doc: text('doc').notNull(),
    // The CRM's own modification time: ingest bookkeeping only, never a cursor key.
    sourceUpdatedAt: tstz('source_updated_at'),
    // The mirror's change time, assigned by the writer under the tenant lock.
    updatedAt: tstz('updated_at').notNull(),
    deletedAt: tstz('deleted_at'),
    // How many versions the writer has recorded in contact_history (an upper bound of the rows
    // there, which also age out): the writer trims a contact's history only past VERSIONS_KEPT,
    // so most writes skip that probe (it cost a third of a changed batch).
    versions: integer('versions').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.tenantId, t.id] }),
    // The sync page: WHERE tenant_id = $1 AND (updated_at, id) > ($2, $3) ORDER BY updated_at, id.
    index('contacts_sync_key').on(t.tenantId, t.updatedAt, t.id),
    // Deletion bookkeeping of the sync endpoint: newest tombstone, tombstones past a horizon.
    index('contacts_tombstones').on(t.tenantId, t.updatedAt).where(sql`${t.deletedAt} IS NOT NULL`),
  ],
);

/**
 * Where each version of a contact came from: one row per version the mirror writer commits
 * (mirror/history.ts), written in the same transaction. Bounded per contact and in age; a privacy
 * erase removes a contact's rows. No foreign key, like contacts: deleteTenant removes the rows.
 */
export const contactHistory = pgTable(
  'contact_history',
  {
    tenantId: uuid('tenant_id').notNull(),
    contactId: text('contact_id').notNull(),
    // The version's key time: the contact's updated_at as the writer set it.
    at: tstz('at').notNull(),
    source: text('source').notNull(),
    // Which Talkdesk fields changed, one bit each (mirror/history.ts names them).
    fields: integer('fields').notNull(),
    deleted: boolean('deleted').notNull().default(false),
  },
  (t) => [
    // The contact's history (the detail route) and the per-contact bound of the writer: at most
    // 20 rows a contact, sorted when read. Not unique, and without `at`, so that a write pays no
    // uniqueness check and a contact's rows share one deduplicated index entry.
    index('contact_history_contact').on(t.tenantId, t.contactId),
    // The age bound's DELETE … WHERE at < cutoff: rows arrive in time order, so a BRIN index
    // serves it at almost no cost to the writer.
    index('contact_history_at').using('brin', t.at),
  ],
);

/**
 * The lookup's index (admin/contact-lookup.ts): the phones, emails and name of each contact as
 * search keys, kept by mirror/key-indexer.ts *off* the write path. An index maintained by the
 * writer (a GIN index on the contacts) ran it at 46–60 % of its speed; this table costs the writer
 * nothing. A contact written since the indexer's watermark (contact_keys_state) is found by
 * scanning those few contacts instead, so a lookup sees every committed version.
 */
export const contactKeys = pgTable(
  'contact_keys',
  {
    tenantId: uuid('tenant_id').notNull(),
    // 'phone' (E.164, or the digits of a number that does not parse), 'email' (lower case), 'name'
    // (lower case, accents removed: a prefix is searched).
    kind: text('kind').notNull(),
    key: text('key').notNull(),
    contactId: text('contact_id').notNull(),
  },
  (t) => [
    // The lookup: kind = $ AND key = ANY($) for phones and emails, key LIKE 'prefix%' for names;
    // COLLATE "C" keys let the prefix be a plain range of the btree.
    index('contact_keys_lookup').on(t.tenantId, t.kind, t.key, t.contactId),
    // The indexer's replacement of a contact's keys, and an erase's removal of them.
    index('contact_keys_contact').on(t.tenantId, t.contactId),
  ],
);

/** How far the key indexer has read each tenant's contacts, in the sync key's order. */
export const contactKeysState = pgTable('contact_keys_state', {
  tenantId: uuid('tenant_id').primaryKey(),
  // The key (updated_at, id) of the last contact indexed: every version at or below it has its keys in contact_keys.
  indexedAt: tstz('indexed_at').notNull(),
  indexedId: text('indexed_id').notNull(),
});

export const ingestState = pgTable('ingest_state', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  // Connector-specific durable position (HubSpot: backfill `after`, search watermark).
  sourceCursor: jsonb('source_cursor').$type<Record<string, unknown>>().notNull().default({}),
  backfillPages: integer('backfill_pages').notNull().default(0),
  backfillContacts: integer('backfill_contacts').notNull().default(0),
  backfillTotal: integer('backfill_total'),
  lastRunAt: tstz('last_run_at'),
  lastSuccessAt: tstz('last_success_at'),
  // When the last scan of the CRM's deleted records completed (DELETE_RECONCILE_SECONDS).
  lastReconcileAt: tstz('last_reconcile_at'),
  lastError: text('last_error'),
  lastErrorAt: tstz('last_error_at'),
  // The CRM's daily request budget left for the account, as its last answer said (Pipedrive),
  // and since when polling has been slowed because it ran low (null: not slowed).
  crmBudgetLeft: integer('crm_budget_left'),
  crmBudgetLowSince: tstz('crm_budget_low_since'),
  // When the CRM last delivered webhook events for the tenant: polling slows down while they
  // arrive (WEBHOOK_POLL_INTERVAL_SECONDS), and speeds up again when they stop.
  webhooksReceivedAt: tstz('webhooks_received_at'),
});

export type Tenant = typeof tenants.$inferSelect;
export type Credential = typeof credentials.$inferSelect;
export type NewTenant = typeof tenants.$inferInsert;
export type ContactRow = typeof contacts.$inferSelect;

/**
 * Ids a running resync (a fresh backfill of a tenant that already has a mirror) has seen, written
 * in each page's transaction. When the resync completes, live contacts it did not see are the
 * ones the CRM no longer has, and are tombstoned; then these rows are cleared.
 */
export const resyncSeen = pgTable(
  'resync_seen',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    id: text('id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.id] })],
);

/**
 * CRM accounts an operator deleted: their credentials do not onboard them again until an operator
 * registers the account (POST /admin/tenants with its crm), which lifts the refusal.
 */
export const refusedAccounts = pgTable(
  'refused_accounts',
  {
    crm: text('crm').notNull(),
    accountId: text('account_id').notNull(),
    refusedAt: tstz('refused_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.crm, t.accountId] })],
);

export const webhookSubscriptionStates = ['subscribing', 'active', 'removing'] as const;
export type WebhookSubscriptionState = (typeof webhookSubscriptionStates)[number];

/**
 * A tenant's webhook subscription at its CRM (Pipedrive's `POST /v1/webhooks`): the random id in
 * its URL (`/webhooks/<crm>/<id>`), the basic credentials the CRM sends with each event and the
 * token that made it, encrypted together (tenants/credential-cipher.ts, bound to the tenant), so
 * that the workers can remove it after the tenant and its credentials are gone. No foreign key
 * for that reason: deleting a tenant marks its subscription 'removing' instead.
 */
export const webhookSubscriptions = pgTable(
  'webhook_subscriptions',
  {
    id: text('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    crm: text('crm').notNull(),
    accountId: text('account_id').notNull(),
    secret: text('secret').notNull(),
    // The CRM's id of the subscription, once it has answered.
    crmWebhookId: text('crm_webhook_id'),
    state: text('state').$type<WebhookSubscriptionState>().notNull().default('subscribing'),
    lastEventAt: tstz('last_event_at'),
    lastError: text('last_error'),
    createdAt: tstz('created_at').notNull().defaultNow(),
    updatedAt: tstz('updated_at').notNull().defaultNow(),
  },
  // At most one live subscription per tenant; removed ones wait for the workers beside it.
  (t) => [uniqueIndex('webhook_subscriptions_tenant_key').on(t.tenantId).where(sql`${t.state} <> 'removing'`)],
);
export type WebhookSubscription = typeof webhookSubscriptions.$inferSelect;
/**
 * A tenant's HubSpot OAuth connection (connect/hubspot-routes.ts): the app's refresh token and
 * current access token, encrypted as one credential object, bound to the tenant
 * (tenants/credential-cipher.ts). The workers refresh the access token under this row's lock, so
 * one process refreshes and every other reads what it stored (tenants/oauth-connections.ts).
 */
export const oauthConnections = pgTable('oauth_connections', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id, { onDelete: 'cascade' }),
  // { refresh_token, access_token }, AES-256-GCM.
  secret: text('secret').notNull(),
  accessExpiresAt: tstz('access_expires_at').notNull(),
  // When the workers refresh it: its expiry less a margin (a quarter of its life, at most 5 minutes).
  refreshAfter: tstz('refresh_after').notNull(),
  connectedAt: tstz('connected_at').notNull().defaultNow(),
  refreshedAt: tstz('refreshed_at'),
  // Set when HubSpot refused the refresh token (uninstalled, revoked): a reconnect clears it.
  failure: text('failure'),
});

export type OAuthConnection = typeof oauthConnections.$inferSelect;

/**
 * OAuth `state` values already used (connect/oauth-state.ts): a state is single-use. Kept until it
 * would have expired anyway; later inserts delete the expired ones.
 */
export const oauthStatesUsed = pgTable('oauth_states_used', {
  // SHA-256 of the state's nonce.
  nonce: bytea('nonce').primaryKey(),
  expiresAt: tstz('expires_at').notNull(),
});
