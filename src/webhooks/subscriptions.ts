import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { and, eq, inArray, ne, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { tenants, webhookSubscriptions, type WebhookSubscription } from '../db/schema.js';
import { decryptCredentials, encryptCredentials, type CredentialBinding } from '../tenants/credential-cipher.js';
import type { BridgeKeys } from '../tenants/keys.js';
import { isIngesting } from '../tenants/lifecycle.js';

/**
 * Webhook subscriptions made per tenant at its CRM (Pipedrive's): each has a random id (its URL is
 * `PUBLIC_URL/webhooks/<crm>/<id>`) and basic credentials of its own, which the CRM sends with
 * every event. The credentials and the token that made the subscription are stored encrypted, so
 * the workers can still remove it once the tenant and its credentials are gone.
 */

/** What a subscription row keeps encrypted. */
export interface SubscriptionSecret {
  user: string;
  password: string;
  /** The CRM credentials the subscription was made with: also what removes it. */
  auth: Record<string, unknown>;
}

// Bound to the tenant like its credentials, under another CRM name, so neither ciphertext opens as the other.
const binding = (s: Pick<WebhookSubscription, 'tenantId' | 'crm' | 'accountId'>): CredentialBinding => ({
  tenantId: s.tenantId,
  crm: `${s.crm}:webhook`,
  accountId: s.accountId,
});

export function subscriptionSecret(keys: BridgeKeys, s: WebhookSubscription): SubscriptionSecret {
  return decryptCredentials(keys, s.secret, binding(s)) as unknown as SubscriptionSecret;
}

/** Where the CRM delivers this subscription's events. */
export function subscriptionUrl(publicUrl: string, s: Pick<WebhookSubscription, 'crm' | 'id'>): string {
  return `${publicUrl.replace(/\/+$/, '')}/webhooks/${s.crm}/${s.id}`;
}

/**
 * A new subscription for a tenant that has none live, with fresh random credentials; undefined
 * when it has one (another worker made it first: one live subscription per tenant, by index).
 */
export async function createSubscription(
  db: Executor,
  keys: BridgeKeys,
  tenant: { id: string; crm: string; crmAccountId: string },
  auth: Record<string, unknown>,
): Promise<WebhookSubscription | undefined> {
  const row = { id: randomBytes(18).toString('base64url'), tenantId: tenant.id, crm: tenant.crm, accountId: tenant.crmAccountId };
  const secret: SubscriptionSecret = { user: 'contact-bridge', password: randomBytes(32).toString('base64url'), auth };
  const [created] = await db
    .insert(webhookSubscriptions)
    .values({ ...row, secret: encryptCredentials(keys, secret as unknown as Record<string, unknown>, binding(row)) })
    .onConflictDoNothing()
    .returning();
  return created;
}

/** Ingesting tenants of these CRMs without a live subscription. */
export async function tenantsWithoutSubscription(db: Executor, crms: readonly string[]): Promise<Array<{ id: string; crm: string; crmAccountId: string }>> {
  if (crms.length === 0) return [];
  const rows = await db
    .select({ id: tenants.id, crm: tenants.crm, crmAccountId: tenants.crmAccountId, status: tenants.status })
    .from(tenants)
    .where(
      and(
        inArray(tenants.crm, [...crms]),
        sql`NOT EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.tenant_id = ${tenants.id} AND s.state <> 'removing')`,
      ),
    );
  return rows.filter((t) => isIngesting(t) && t.crmAccountId !== null).map((t) => ({ id: t.id, crm: t.crm, crmAccountId: t.crmAccountId! }));
}

export async function subscriptionsIn(db: Executor, state: WebhookSubscription['state']): Promise<WebhookSubscription[]> {
  return db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.state, state));
}

export async function markSubscribed(db: Executor, id: string, crmWebhookId: string): Promise<void> {
  await db
    .update(webhookSubscriptions)
    .set({ state: 'active', crmWebhookId, lastError: null, updatedAt: sql`now()` })
    .where(and(eq(webhookSubscriptions.id, id), eq(webhookSubscriptions.state, 'subscribing')));
}

export async function recordSubscriptionError(db: Executor, id: string, message: string): Promise<void> {
  await db.update(webhookSubscriptions).set({ lastError: message.slice(0, 500), updatedAt: sql`now()` }).where(eq(webhookSubscriptions.id, id));
}

/**
 * Subscriptions whose tenant is gone or has no working credential are to be removed. A paused
 * tenant keeps its subscription (its events are skipped until it resumes). How many were marked.
 */
export async function retireSubscriptions(db: Executor): Promise<number> {
  const res = await db.execute(sql`
    UPDATE webhook_subscriptions s SET state = 'removing', updated_at = now()
    WHERE s.state <> 'removing'
      AND NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = s.tenant_id AND t.status <> 'credentials_failed')`);
  return res.rowCount ?? 0;
}

/** A tenant is being deleted: its subscription is removed by the workers. Call in the deletion's transaction. */
export async function retireTenantSubscriptions(db: Executor, tenantId: string): Promise<void> {
  await db
    .update(webhookSubscriptions)
    .set({ state: 'removing', updatedAt: sql`now()` })
    .where(and(eq(webhookSubscriptions.tenantId, tenantId), ne(webhookSubscriptions.state, 'removing')));
}

export async function deleteSubscription(db: Executor, id: string): Promise<void> {
  await db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, id));
}

/** The live subscription a delivery names; undefined for an id that is no subscription (or one being removed). */
export async function liveSubscription(db: Executor, crm: string, id: string): Promise<WebhookSubscription | undefined> {
  const [row] = await db
    .select()
    .from(webhookSubscriptions)
    .where(and(eq(webhookSubscriptions.id, id), eq(webhookSubscriptions.crm, crm), ne(webhookSubscriptions.state, 'removing')))
    .limit(1);
  return row;
}

export async function recordSubscriptionEvent(db: Executor, id: string): Promise<void> {
  await db.update(webhookSubscriptions).set({ lastEventAt: sql`now()` }).where(eq(webhookSubscriptions.id, id));
}

/** Compares what a delivery presented with the subscription's credentials, in constant time. */
export function credentialsMatch(expected: { user: string; password: string }, given: { user: string; password: string }): boolean {
  // Digests first: equal lengths whatever was sent, so the comparison time says nothing of the secret.
  const d = (s: string) => createHash('sha256').update(s).digest();
  const userOk = timingSafeEqual(d(expected.user), d(given.user));
  const passwordOk = timingSafeEqual(d(expected.password), d(given.password));
  return userOk && passwordOk;
}
