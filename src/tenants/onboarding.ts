import createError from '@fastify/error';
import type { Db } from '../db/client.js';
import type { Tenant } from '../db/schema.js';
import type { Connector, CrmAccount } from '../crm/connector.js';
import type { ConnectorRegistry } from '../crm/registry.js';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../crm/errors.js';
import { authDigest } from './auth-digest.js';
import { UnknownCredentialsError } from './errors.js';
import type { BridgeKeys } from './keys.js';
import { credentialsVerified } from './lifecycle.js';
import { findTenantByAuth } from './repository.js';
import type { IngestControl } from '../ingest/control.js';

export const CrmVerificationUnavailableError = createError<[string]>(
  'CRM_UNAVAILABLE',
  'the CRM could not verify these credentials right now (%s); retry shortly',
  503,
);

export interface OnboardingOptions {
  db: Db;
  keys: BridgeKeys;
  /** The enabled CRM connectors: an unknown `auth` is verified by the one whose fields it has. */
  connectors: ConnectorRegistry;
  /** Schedules a new tenant's backfill; a Redis outage is logged there, never a failed sync. */
  ingest?: Pick<IngestControl, 'activate'>;
  /** How long a failed verification is remembered (a flood of bad tokens is not a flood of CRM calls). */
  failureTtlMs?: number;
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
    // Tenants pushed through the admin API (or of a CRM not enabled here) have no CRM to ask.
    const connector = known ? this.options.connectors.get(known.crm) : this.options.connectors.forAuth(auth);
    if (known && !connector) return { tenant: known, onboarded: false };
    // The attempt limit never throttles credentials the bridge already knows.
    if (!known) await admitUnknown();
    // Credentials with no connector's fields are nobody's: refused without a CRM call.
    if (!connector) throw new UnknownCredentialsError();
    const tenant = await this.accept(connector, await this.verify(connector, auth), auth);
    return { tenant, onboarded: true };
  }

  /** For POST /auth_validation: are these credentials good right now? Onboards them if so. */
  async validate(auth: Record<string, unknown>, admitUnknown: AdmitUnknown = admitAll): Promise<Tenant> {
    const known = await findTenantByAuth(this.options.db, this.options.keys, auth);
    if (!known) return (await this.resolve(auth, admitUnknown)).tenant;
    const connector = this.options.connectors.get(known.crm);
    if (!connector) return known;
    return this.accept(connector, await this.verify(connector, auth), auth);
  }

  /** Registers credentials an operator supplies (admin API), verifying them first. */
  async register(connector: Connector, auth: Record<string, unknown>, name: string): Promise<Tenant> {
    const account = await this.verify(connector, auth);
    return this.accept(connector, { ...account, accountName: name }, auth, true);
  }

  private async verify(connector: Connector, auth: Record<string, unknown>): Promise<CrmAccount> {
    const key = authDigest(this.options.keys.authDigest, auth).toString('base64');
    const failedUntil = this.failures.get(key);
    if (failedUntil !== undefined && failedUntil > this.now()) throw new UnknownCredentialsError();
    try {
      return await connector.verify(auth);
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

  /** Verified credentials become (or rejoin) their account's tenant, whose ingest is then scheduled. */
  private accept(connector: Connector, account: CrmAccount, auth: Record<string, unknown>, rename = false): Promise<Tenant> {
    const { db, keys, ingest } = this.options;
    return credentialsVerified(db, keys, ingest, { crm: connector.kind, accountId: account.accountId, name: account.accountName, auth }, { rename });
  }
}
