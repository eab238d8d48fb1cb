import { and, eq, sql } from 'drizzle-orm';
import type { Db, Executor } from '../db/client.js';
import { oauthConnections, tenants, type Tenant } from '../db/schema.js';
import { decryptCredentials, encryptCredentials, underCurrentKey } from './credential-cipher.js';
import { bindingOf } from './credentials.js';
import type { BridgeKeys } from './keys.js';

/**
 * A tenant's OAuth connection: the refresh token and the current access token the workers read
 * the CRM with. HubSpot's access tokens live 30 minutes and Talkdesk hands the bridge none between
 * its calls, so the workers refresh them themselves: once across every process, under the row's
 * lock, each process re-reading the row once it holds the lock and using what another stored.
 */

export interface ConnectionTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives from now. */
  expiresIn: number;
}

/** What refreshes a connection's tokens (crm/hubspot/oauth-client.ts); throws ConnectionRefusedError for a refused grant. */
export interface TokenRefresher {
  refresh(refreshToken: string): Promise<ConnectionTokens>;
}

/** The CRM refused the connection's refresh token: nothing but connecting again helps. */
export class ConnectionRefusedError extends Error {
  override name = 'ConnectionRefusedError';
}

/** The tenant has no OAuth connection (connection keys without one cannot read the CRM). */
export class NoConnectionError extends Error {
  override name = 'NoConnectionError';
}

interface StoredTokens {
  refresh_token: string;
  access_token: string;
}

/**
 * Refresh this long before expiry: a quarter of the token's life, at most 5 minutes (HubSpot's 30
 * minutes: at 25; a test's 4 seconds: at 3).
 */
const refreshMarginSeconds = (expiresIn: number) => Math.min(300, Math.floor(expiresIn / 4));

const tokenColumns = (keys: BridgeKeys, tenant: Pick<Tenant, 'id' | 'crm' | 'crmAccountId'>, tokens: ConnectionTokens) => ({
  secret: encryptCredentials(keys, { refresh_token: tokens.refreshToken, access_token: tokens.accessToken } satisfies StoredTokens, bindingOf(tenant)),
  accessExpiresAt: sql`now() + make_interval(secs => ${tokens.expiresIn})`,
  refreshAfter: sql`now() + make_interval(secs => ${tokens.expiresIn - refreshMarginSeconds(tokens.expiresIn)})`,
});

/** A customer connected (or connected again): the tokens of the code exchange replace any before, and a refusal is forgotten. */
export async function saveConnection(db: Executor, keys: BridgeKeys, tenant: Tenant, tokens: ConnectionTokens): Promise<void> {
  const columns = tokenColumns(keys, tenant, tokens);
  await db
    .insert(oauthConnections)
    .values({ tenantId: tenant.id, ...columns })
    .onConflictDoUpdate({
      target: oauthConnections.tenantId,
      set: { ...columns, connectedAt: sql`now()`, refreshedAt: null, failure: null },
    });
}

export async function getConnection(db: Executor, tenantId: string) {
  const [row] = await db.select().from(oauthConnections).where(eq(oauthConnections.tenantId, tenantId)).limit(1);
  return row;
}

export interface AccessTokenOptions {
  /**
   * The access token the CRM just answered "expired" for: refresh unless the stored one is
   * already another (someone refreshed meanwhile), whatever the stored expiry says.
   */
  expired?: string;
  /** Counts the refreshes this process made (metrics, tests). */
  onRefresh?: () => void;
}

/**
 * The tenant's current access token, refreshed first when it is due (or reported expired). One
 * refresh across every process: the refresher runs with the connection's row locked (`SELECT …
 * FOR UPDATE`), and a process that waited for the lock reads what the other stored instead of
 * refreshing again. A new refresh token, when the CRM sends one, replaces the old. A refused
 * refresh is recorded on the row (every process then knows without asking the CRM) and thrown as
 * ConnectionRefusedError.
 */
export async function connectionAccessToken(
  db: Db,
  keys: BridgeKeys,
  refresher: TokenRefresher,
  tenant: Tenant,
  { expired, onRefresh }: AccessTokenOptions = {},
): Promise<string> {
  const usable = (row: Row) => {
    if (row.failure !== null) throw new ConnectionRefusedError(row.failure);
    const stored = decryptCredentials(keys, row.secret, bindingOf(tenant)) as unknown as StoredTokens;
    const current = expired === undefined ? row.due === false : stored.access_token !== expired && row.expired === false;
    return { stored, current };
  };
  const first = await readRow(db, tenant.id, false);
  if (!first) throw new NoConnectionError('this tenant has no OAuth connection; connect it at /connect/hubspot');
  const seen = usable(first);
  if (seen.current) return seen.stored.access_token;

  const outcome = await db.transaction(async (tx) => {
    const row = await readRow(tx, tenant.id, true);
    if (!row) throw new NoConnectionError('this tenant has no OAuth connection; connect it at /connect/hubspot');
    const { stored, current } = usable(row);
    // Another process refreshed while this one waited for the lock: theirs it is.
    if (current) return { token: stored.access_token };
    let tokens: ConnectionTokens;
    try {
      tokens = await refresher.refresh(stored.refresh_token);
    } catch (err) {
      if (!(err instanceof ConnectionRefusedError)) throw err;
      await tx.update(oauthConnections).set({ failure: err.message.slice(0, 500) }).where(eq(oauthConnections.tenantId, tenant.id));
      return { refused: err };
    }
    onRefresh?.();
    // HubSpot keeps the refresh token for now; should it send another, the old one may stop working.
    const next = { ...tokens, refreshToken: tokens.refreshToken || stored.refresh_token };
    await tx
      .update(oauthConnections)
      .set({ ...tokenColumns(keys, tenant, next), refreshedAt: sql`now()` })
      .where(eq(oauthConnections.tenantId, tenant.id));
    return { token: tokens.accessToken };
  });
  if ('refused' in outcome) throw outcome.refused;
  return outcome.token;
}

type Row = { secret: string; failure: string | null; due: boolean; expired: boolean };

/** The row, with the database's clock's word on whether its token is due for a refresh or already expired. */
async function readRow(db: Executor, tenantId: string, lock: boolean): Promise<Row | undefined> {
  const { rows } = await db.execute<Row>(sql`
    SELECT secret, failure, refresh_after <= now() AS due, access_expires_at <= now() AS expired
    FROM oauth_connections WHERE tenant_id = ${tenantId}
    ${lock ? sql`FOR UPDATE` : sql``}
  `);
  return rows[0];
}

/**
 * A BRIDGE_SECRET rotation's pass over the OAuth connections (secret-rotation.ts): each one not
 * under the current secret is opened and encrypted again, in an UPDATE that applies only if the
 * row still holds what was read (a refresh meanwhile wrote it under the current secret already).
 */
export async function rewriteConnectionsUnderCurrentSecret(
  db: Executor,
  keys: BridgeKeys,
  { dryRun = false }: { dryRun?: boolean } = {},
): Promise<{ connections: number; current: number; rewritten: number; pending: number; unreadable: string[] }> {
  const report = { connections: 0, current: 0, rewritten: 0, pending: 0, unreadable: [] as string[] };
  const rows = await db.select({ connection: oauthConnections, tenant: tenants }).from(oauthConnections).innerJoin(tenants, eq(tenants.id, oauthConnections.tenantId));
  for (const { connection, tenant } of rows) {
    report.connections++;
    if (underCurrentKey(keys, connection.secret)) {
      report.current++;
      continue;
    }
    let stored: Record<string, unknown>;
    try {
      stored = decryptCredentials(keys, connection.secret, bindingOf(tenant));
    } catch {
      report.unreadable.push(`oauth connection of tenant ${tenant.id}`);
      continue;
    }
    if (dryRun) {
      report.pending++;
      continue;
    }
    await db
      .update(oauthConnections)
      .set({ secret: encryptCredentials(keys, stored, bindingOf(tenant)) })
      .where(and(eq(oauthConnections.tenantId, tenant.id), eq(oauthConnections.secret, connection.secret)));
    report.rewritten++;
  }
  return report;
}
