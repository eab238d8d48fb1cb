import createError from '@fastify/error';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { tenants, type Tenant } from '../db/schema.js';
import type { Connector, CrmAccount } from '../crm/connector.js';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../crm/errors.js';
import { authDigest } from './auth-digest.js';
import { encryptCredentials } from './credential-cipher.js';
import { DuplicateCredentialsError, UnknownCredentialsError } from './errors.js';
import type { BridgeKeys } from './keys.js';
import { findTenantByAuth } from './repository.js';

export const CrmVerificationUnavailableError = createError<[string]>(
  'CRM_UNAVAILABLE',
  'the CRM could not verify these credentials right now (%s); retry shortly',
  503,
);

/** What onboarding needs of the ingest queues; absent in a process that cannot reach them. */
export interface IngestActivation {
  activate(tenantId: string): Promise<void>;
}

export interface OnboardingOptions {
  db: Db;
  keys: BridgeKeys;
  connector: Connector;
  ingest?: IngestActivation;
  /** How long a failed verification is remembered (a flood of bad tokens is not a flood of CRM calls). */
  failureTtlMs?: number;
  log?: { warn(obj: object, msg: string): void };
  now?: () => number;
}

export type Resolution = { tenant: Tenant; onboarded: boolean };

/** Counts an attempt with credentials no tenant has; throws when its client is over budget. */
export type AdmitUnknown = () => Promise<void>;

const admitAll: AdmitUnknown = async () => {};

/**
 * Zero-touch onboarding: credentials the bridge has never seen are verified once with the CRM
 * and, if valid, become a tenant keyed by the CRM's own account id (so a rotated token updates
 * that tenant instead of creating a second one) whose backfill is scheduled at once. A tenant
 * whose credentials failed answers 401 until credentials that verify again arrive.
 */
export class Onboarding {
  private readonly failures = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: OnboardingOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The tenant these credentials belong to, onboarding it if need be. */
  async resolve(auth: Record<string, unknown>, admitUnknown: AdmitUnknown = admitAll): Promise<Resolution> {
    const known = await findTenantByAuth(this.options.db, this.options.keys, auth);
    if (known && known.status !== 'credentials_failed') return { tenant: known, onboarded: false };
    // Tenants pushed through the admin API have no CRM to ask.
    if (known && known.crm !== this.options.connector.kind) return { tenant: known, onboarded: false };
    // The attempt limit never throttles credentials the bridge already knows.
    if (!known) await admitUnknown();
    const account = await this.verify(auth);
    const tenant = await this.upsertTenant(account, auth);
    await this.activate(tenant.id);
    return { tenant, onboarded: true };
  }

  /** For POST /auth_validation: are these credentials good right now? Onboards them if so. */
  async validate(auth: Record<string, unknown>, admitUnknown: AdmitUnknown = admitAll): Promise<Tenant> {
    const known = await findTenantByAuth(this.options.db, this.options.keys, auth);
    if (known && known.crm !== this.options.connector.kind) return known;
    if (!known) return (await this.resolve(auth, admitUnknown)).tenant;
    const account = await this.verify(auth);
    const tenant = await this.upsertTenant(account, auth);
    await this.activate(tenant.id);
    return tenant;
  }

  /** Registers credentials an operator supplies (admin API), verifying them first. */
  async register(auth: Record<string, unknown>, name: string): Promise<Tenant> {
    const account = await this.verify(auth);
    const tenant = await this.upsertTenant({ ...account, accountName: name }, auth, true);
    await this.activate(tenant.id);
    return tenant;
  }

  private async verify(auth: Record<string, unknown>): Promise<CrmAccount> {
    const key = authDigest(this.options.keys.authDigest, auth).toString('base64');
    const failedUntil = this.failures.get(key);
    if (failedUntil !== undefined && failedUntil > this.now()) throw new UnknownCredentialsError();
    try {
      return await this.options.connector.verify(auth);
    } catch (err) {
      if (err instanceof CrmUnauthorizedError) {
        this.rememberFailure(key);
        throw new UnknownCredentialsError();
      }
      // Unreachable, slow, 5xx or 429: say so, and never remember it as bad credentials.
      if (err instanceof CrmUnavailableError || err instanceof CrmRateLimitedError) {
        throw new CrmVerificationUnavailableError(err.message);
      }
      throw err;
    }
  }

  private rememberFailure(key: string): void {
    const now = this.now();
    if (this.failures.size > 10_000) {
      for (const [k, until] of this.failures) if (until <= now) this.failures.delete(k);
      if (this.failures.size > 10_000) this.failures.clear();
    }
    this.failures.set(key, now + (this.options.failureTtlMs ?? 60_000));
  }

  /**
   * One statement: a new account becomes a tenant (backfilling); a known account takes the new
   * credentials, and leaves credentials_failed if it was there. `rename` applies the given name
   * to an existing tenant too (operator registration).
   */
  private async upsertTenant(account: CrmAccount, auth: Record<string, unknown>, rename = false): Promise<Tenant> {
    const { keys, connector, db } = this.options;
    const digest = authDigest(keys.authDigest, auth);
    const [tenant] = await db
      .insert(tenants)
      .values({
        name: account.accountName,
        crm: connector.kind,
        crmAccountId: account.accountId,
        authDigest: digest,
        credentials: encryptCredentials(keys, auth),
        status: 'backfilling',
      })
      .onConflictDoUpdate({
        target: [tenants.crm, tenants.crmAccountId],
        set: {
          authDigest: digest,
          credentials: sql`excluded.credentials`,
          name: rename ? sql`excluded.name` : sql`${tenants.name}`,
          status: sql`CASE WHEN ${tenants.status} = 'credentials_failed'
                           THEN CASE WHEN ${tenants.backfillCompletedAt} IS NULL THEN 'backfilling' ELSE 'active' END
                           ELSE ${tenants.status} END`,
          updatedAt: sql`now()`,
        },
      })
      .returning()
      .catch((err: { code?: string; constraint?: string }) => {
        // The same auth object already registered for another tenant (a pushed one).
        if (err.code === '23505' && err.constraint === 'tenants_auth_digest_key') throw new DuplicateCredentialsError();
        throw err;
      });
    return tenant!;
  }

  private async activate(tenantId: string): Promise<void> {
    try {
      await this.options.ingest?.activate(tenantId);
    } catch (err) {
      // The tenant exists in PostgreSQL; the workers' schedule reconciliation picks it up once
      // Redis answers again. A sync must not fail because the queues are down.
      this.options.log?.warn({ tenantId, err: (err as Error).message }, 'could not schedule ingest now; the workers will');
    }
  }
}
