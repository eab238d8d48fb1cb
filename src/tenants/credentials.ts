import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Executor } from '../db/client.js';
import { credentials, tenants, type Credential, type Tenant } from '../db/schema.js';
import { authDigest, digestsEqual } from './auth-digest.js';
import { decryptCredentials, encryptCredentials, underCurrentKey, type CredentialBinding } from './credential-cipher.js';
import { DuplicateCredentialsError } from './errors.js';
import type { BridgeKeys } from './keys.js';
import { isConnectionMarker } from './connection-keys.js';

// Every statement on the credentials table. A tenant has credentials, plural: each Talkdesk
// integration that syncs it brings its own, found by the HMAC digest of its auth object.

/** A credential and the tenant it belongs to. */
export interface CredentialMatch {
  credential: Credential;
  tenant: Tenant;
}

export const bindingOf = (tenant: Pick<Tenant, 'id' | 'crm' | 'crmAccountId'>): CredentialBinding => ({
  tenantId: tenant.id,
  crm: tenant.crm,
  accountId: tenant.crmAccountId,
});

/**
 * What an operator is shown instead of the value: the auth's field names and a fingerprint (the
 * first characters of its HMAC digest, which reveal nothing of the value).
 */
export function credentialLabel(auth: Record<string, unknown>, digest: Buffer): string {
  return `${Object.keys(auth).sort().join(', ') || 'empty auth'} #${digest.toString('hex').slice(0, 8)}`;
}

/**
 * The credential these auth fields are, with its tenant. During a BRIDGE_SECRET rotation one still
 * under the previous secret is found by its old digest too, and rewritten under the current secret
 * as it is found, so every credential in use moves over without an operator's help.
 */
export async function findCredential(db: Executor, keys: BridgeKeys, auth: Record<string, unknown>): Promise<CredentialMatch | undefined> {
  const digest = authDigest(keys.authDigest, auth);
  const previous = keys.previous ? authDigest(keys.previous.authDigest, auth) : undefined;
  const rows = await db
    .select({ credential: credentials, tenant: tenants })
    .from(credentials)
    .innerJoin(tenants, eq(tenants.id, credentials.tenantId))
    .where(previous ? inArray(credentials.digest, [digest, previous]) : eq(credentials.digest, digest))
    .limit(2);
  // The index lookup already matched; the constant-time comparisons keep the final decision
  // free of any early-exit timing, whatever the lookup path does.
  const current = rows.find((r) => digestsEqual(r.credential.digest, digest));
  if (current) return current;
  const old = previous && rows.find((r) => digestsEqual(r.credential.digest, previous));
  if (!old) return undefined;
  // The auth matched: serve the request even if the rewrite cannot be done now. The rotation
  // command retries it, and reports a row it cannot rewrite.
  const credential = await rewriteUnderCurrentSecret(db, keys, old, auth).catch(() => old.credential);
  return { credential, tenant: old.tenant };
}

export interface NewCredential {
  auth: Record<string, unknown>;
  /** What the CRM showed it may do (empty for pushed tenants). */
  allows?: string[];
  /** Verified by the CRM just now (pushed tenants' credentials are never verified). */
  verified: boolean;
  /** What is stored (encrypted) in place of `auth`: a connection key's marker (connection-keys.ts). Default: `auth`. */
  stored?: Record<string, unknown>;
}

/**
 * Adds a credential to its tenant, never replacing another. The same auth again (Talkdesk
 * re-activating the integration) refreshes it and makes it work again. Auth that is another
 * tenant's credential is a DuplicateCredentialsError.
 */
export async function addCredential(db: Executor, keys: BridgeKeys, tenant: Tenant, input: NewCredential): Promise<Credential> {
  // During a rotation the same auth may be registered under the previous secret, where the
  // unique digest below cannot see it.
  if (keys.previous) {
    const old = await findCredential(db, keys, input.auth);
    if (old && old.tenant.id !== tenant.id) throw new DuplicateCredentialsError();
  }
  const digest = authDigest(keys.authDigest, input.auth);
  const verifiedAt = input.verified ? sql`now()` : null;
  const [row] = await db
    .insert(credentials)
    .values({
      tenantId: tenant.id,
      digest,
      secret: encryptCredentials(keys, input.stored ?? input.auth, bindingOf(tenant)),
      label: credentialLabel(input.auth, digest),
      allows: input.allows ?? [],
      verifiedAt,
    })
    .onConflictDoUpdate({
      target: credentials.digest,
      set: { status: 'working', failure: null, failedAt: null, verifiedAt, allows: sql`excluded.allows` },
      // Another tenant's credential is never taken over.
      setWhere: eq(credentials.tenantId, tenant.id),
    })
    .returning();
  if (!row) throw new DuplicateCredentialsError();
  return row;
}

/** The CRM accepted a known credential again. */
export async function credentialVerified(db: Executor, id: string, allows: string[]): Promise<void> {
  await db
    .update(credentials)
    .set({ status: 'working', failure: null, failedAt: null, verifiedAt: sql`now()`, allows })
    .where(eq(credentials.id, id));
}

/** The CRM refused this credential. Returns how many of the tenant's credentials still work. */
export async function markCredentialFailed(db: Executor, id: string, reason: string): Promise<number> {
  const [row] = await db
    .update(credentials)
    .set({ status: 'failed', failure: reason.slice(0, 500), failedAt: sql`now()` })
    .where(eq(credentials.id, id))
    .returning({ tenantId: credentials.tenantId });
  return row ? countWorking(db, row.tenantId) : 0;
}

/**
 * A Talkdesk-managed OAuth access token the CRM reports expired: set aside by the workers, not
 * failed (it still answers syncs). Returns how many of the tenant's credentials still work.
 */
export async function markCredentialExpired(db: Executor, id: string): Promise<number> {
  const [row] = await db
    .update(credentials)
    .set({ status: 'expired', failedAt: sql`now()` })
    .where(and(eq(credentials.id, id), eq(credentials.status, 'working')))
    .returning({ tenantId: credentials.tenantId });
  return row ? countWorking(db, row.tenantId) : 0;
}

/** The ids of the tenant's connection keys (credentials whose stored auth is the OAuth marker). */
export async function connectionKeyIds(db: Executor, keys: BridgeKeys, tenant: Tenant): Promise<string[]> {
  const rows = await db.select().from(credentials).where(eq(credentials.tenantId, tenant.id));
  return rows
    .filter((c) => {
      try {
        return isConnectionMarker(decryptCredentials(keys, c.secret, bindingOf(tenant)));
      } catch {
        return false;
      }
    })
    .map((c) => c.id);
}

/** Sets these credentials' status at once (a tenant's connection keys follow its OAuth connection). */
export async function setCredentialsStatus(db: Executor, ids: string[], status: 'working' | 'failed', failure: string | null): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(credentials)
    .set({ status, failure: failure?.slice(0, 500) ?? null, failedAt: status === 'failed' ? sql`now()` : null })
    .where(inArray(credentials.id, ids));
}

export async function countWorking(db: Executor, tenantId: string): Promise<number> {
  const { rows } = await db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM credentials WHERE tenant_id = ${tenantId} AND status = 'working'`,
  );
  return rows[0]!.n;
}

/** The tenant's credentials that work, newest first, opened: the workers use the first. */
export async function workingCredentials(
  db: Executor,
  keys: BridgeKeys,
  tenant: Tenant,
): Promise<Array<{ credential: Credential; auth: Record<string, unknown> }>> {
  const rows = await db
    .select()
    .from(credentials)
    .where(and(eq(credentials.tenantId, tenant.id), eq(credentials.status, 'working')))
    .orderBy(desc(credentials.createdAt), desc(credentials.id));
  return rows.map((credential) => ({ credential, auth: decryptCredentials(keys, credential.secret, bindingOf(tenant)) }));
}

/** The credentials of these tenants, oldest first, for operators (never their values). */
export async function listCredentials(db: Executor, tenantIds: string[]): Promise<Credential[]> {
  if (tenantIds.length === 0) return [];
  return db
    .select()
    .from(credentials)
    .where(inArray(credentials.tenantId, tenantIds))
    .orderBy(asc(credentials.createdAt), asc(credentials.id));
}

/** An operator revokes one credential: its auth is unknown from now on. Whether it existed. */
export async function deleteCredential(db: Executor, tenantId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(credentials)
    .where(and(eq(credentials.tenantId, tenantId), eq(credentials.id, id)))
    .returning({ id: credentials.id });
  return deleted.length > 0;
}

const TOUCH_EVERY_MS = 60_000;

/** Records that the credential was used, at most once a minute (a sync run is many requests). */
export async function touchCredential(db: Executor, credential: Credential, nowMs = Date.now()): Promise<void> {
  if (credential.lastUsedAt !== null && nowMs - Date.parse(credential.lastUsedAt) < TOUCH_EVERY_MS) return;
  await db.update(credentials).set({ lastUsedAt: sql`now()` }).where(eq(credentials.id, credential.id));
}

/** Credentials in id order after `after` (a page of a pass over every credential), with their tenants. */
export async function credentialsAfter(db: Executor, after: string, limit: number): Promise<CredentialMatch[]> {
  return db
    .select({ credential: credentials, tenant: tenants })
    .from(credentials)
    .innerJoin(tenants, eq(tenants.id, credentials.tenantId))
    .where(gt(credentials.id, after))
    .orderBy(asc(credentials.id))
    .limit(limit);
}

/**
 * A credential's digest and ciphertext are always written together, under one secret. This moves
 * one credential to the current secret (and binds an older ciphertext to its tenant): decrypted,
 * then digested and encrypted again, both columns in one UPDATE that applies only if the row still
 * holds what was read, so a credential refreshed meanwhile is never overwritten with older data.
 */
export async function rewriteUnderCurrentSecret(
  db: Executor,
  keys: BridgeKeys,
  { credential, tenant }: CredentialMatch,
  /** The auth the caller was sent, when it has it: the only way to digest a connection key again. */
  sent?: Record<string, unknown>,
): Promise<Credential> {
  const digest = sent === undefined ? undefined : authDigest(keys.authDigest, sent);
  // A connection key's ciphertext may be under the current secret while its digest is not (see below).
  if (underCurrentKey(keys, credential.secret) && (digest === undefined || digestsEqual(digest, credential.digest))) return credential;
  const stored = decryptCredentials(keys, credential.secret, bindingOf(tenant));
  // A connection key's value is stored nowhere, so without it only the ciphertext moves: its
  // digest moves when Talkdesk next sends the key during the rotation (findCredential). A key not
  // sent before BRIDGE_SECRET_PREVIOUS is removed is unknown after: its customer connects again.
  const [rewritten] = await db
    .update(credentials)
    .set({
      digest: digest ?? (isConnectionMarker(stored) ? credential.digest : authDigest(keys.authDigest, stored)),
      secret: encryptCredentials(keys, stored, bindingOf(tenant)),
    })
    .where(and(eq(credentials.id, credential.id), eq(credentials.secret, credential.secret)))
    .returning();
  if (rewritten) return rewritten;
  // Someone else wrote the row first (another replica's rewrite): theirs stands.
  const [current] = await db.select().from(credentials).where(eq(credentials.id, credential.id)).limit(1);
  return current ?? credential;
}

/**
 * Claims this Talkdesk copy's deletion resync (an incremental sync withholding its checkpoint so
 * the next run is a full one) unless one was claimed within `intervalSeconds`. Atomic, so two runs
 * racing for the same window cannot both withhold.
 */
export async function claimDeletionResync(db: Executor, credentialId: string, intervalSeconds: number): Promise<boolean> {
  const claimed = await db.execute(sql`
    UPDATE credentials SET last_deletion_resync_at = now()
    WHERE id = ${credentialId}
      AND (last_deletion_resync_at IS NULL OR last_deletion_resync_at <= now() - make_interval(secs => ${intervalSeconds}))
  `);
  return (claimed.rowCount ?? 0) > 0;
}
