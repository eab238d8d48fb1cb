import createError from '@fastify/error';
import type { Db } from '../db/client.js';
import type { Credential, Tenant } from '../db/schema.js';
import type { Connector, CrmAccount } from '../crm/connector.js';
import type { ConnectorRegistry } from '../crm/registry.js';
import { CrmRateLimitedError, CrmUnauthorizedError, CrmUnavailableError } from '../crm/errors.js';
import { authDigest } from './auth-digest.js';
import { AccountRefusedError, AwaitingApprovalError, UnknownCredentialsError } from './errors.js';
import type { BridgeKeys } from './keys.js';
import { findCredential, markCredentialFailed, type CredentialMatch } from './credentials.js';
import { approveTenant, credentialReverified, credentialsVerified, isAccountRefused, isIngesting, liftRefusal, tenantOfAccount } from './lifecycle.js';
import type { IngestControl } from '../ingest/control.js';
import { isConnectionKeyAuth } from './connection-keys.js';

// Says what failed, never where: the CRM client's own message names hosts and URLs.
export const CrmVerificationUnavailableError = createError(
  'CRM_UNAVAILABLE',
  'the CRM could not verify these credentials right now; retry shortly',
  503,
);

export interface OnboardingOptions {
  db: Db;
  keys: BridgeKeys;
  /** The enabled CRM connectors: an unknown `auth` is verified by the one whose fields it has. */
  connectors: ConnectorRegistry;
  /** Schedules a new tenant's backfill; a Redis outage is logged there, never a failed sync. */
  ingest?: Pick<IngestControl, 'activate'>;
  /** ONBOARDING: what credentials of an account the bridge does not serve yet become (default open). */
  mode?: 'open' | 'approval' | 'closed';
  /** How long a failed verification is remembered (a flood of bad tokens is not a flood of CRM calls). */
  failureTtlMs?: number;
  /** How long a known credential's verification stands for POST /auth_validation (default 5 minutes). */
  validationTtlMs?: number;
  now?: () => number;
}

export type Resolution = { tenant: Tenant; credential: Credential; onboarded: boolean };

/** Counts an attempt with credentials no tenant has; throws when its client is over budget. */
export type AdmitUnknown = () => Promise<void>;

const admitAll: AdmitUnknown = async () => {};

/**
 * Zero-touch onboarding: credentials the bridge has never seen are verified once with the CRM,
 * with a call that needs what ingest needs, and if valid join their account's tenant as one more
 * credential (never in place of another), or create it. A credential the CRM refused answers 401
 * until it verifies again.
 */
export class Onboarding {
  private readonly failures = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly options: OnboardingOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The tenant and credential these auth fields are, onboarding them if need be. */
  async resolve(auth: Record<string, unknown>, admitUnknown: AdmitUnknown = admitAll): Promise<Resolution> {
    const known = await findCredential(this.options.db, this.options.keys, auth);
    if (known && answersSyncs(known.credential)) return servable({ ...known, onboarded: false });
    // The attempt limit never throttles credentials the bridge already knows.
    if (!known) await admitUnknown();
    return servable(await this.verifyAndAccept(known, auth));
  }

  /**
   * For POST /auth_validation: are these credentials good right now? Onboards them if so. A known
   * credential verified within the last minutes is not asked about again: a flood of validations
   * is not a flood of CRM calls.
   */
  async validate(auth: Record<string, unknown>, admitUnknown: AdmitUnknown = admitAll): Promise<Tenant> {
    const known = await findCredential(this.options.db, this.options.keys, auth);
    if (!known) return (await this.resolve(auth, admitUnknown)).tenant;
    const { credential } = known;
    // A connection key is the bridge's own: no CRM call can verify it (its OAuth connection is the workers' to use).
    const fresh =
      isConnectionKeyAuth(auth) ||
      (credential.verifiedAt !== null && this.now() - Date.parse(credential.verifiedAt) < (this.options.validationTtlMs ?? 300_000));
    if (credential.status === 'working' && (fresh || !this.options.connectors.get(known.tenant.crm))) {
      const { tenant } = servable({ ...known, onboarded: false });
      // No CRM call, but the schedule is made sure of (cheap, and the tick is deduplicated): an
      // activation is how Talkdesk heals a tenant onboarded while Redis was away.
      if (isIngesting(tenant)) await this.options.ingest?.activate(tenant.id);
      return tenant;
    }
    return servable(await this.verifyAndAccept(known, auth)).tenant;
  }

  /** Registers credentials an operator supplies (admin API), verifying them first. */
  /** Registers credentials an operator supplies (admin API), verifying them first; the operator's word admits the account. */
  async register(connector: Connector, auth: Record<string, unknown>, name: string): Promise<Tenant> {
    const account = await this.verify(connector, auth);
    await liftRefusal(this.options.db, connector.kind, account.accountId);
    const { tenant } = await this.accept(connector, { ...account, accountName: name }, auth, { rename: true });
    if (tenant.status === 'awaiting_approval') await approveTenant(this.options.db, this.options.ingest, tenant.id);
    return (await tenantOfAccount(this.options.db, connector.kind, account.accountId)) ?? tenant;
  }

  private async verifyAndAccept(known: CredentialMatch | undefined, auth: Record<string, unknown>): Promise<Resolution> {
    // Pushed tenants (or a CRM not enabled here) have no CRM to ask; credentials with no
    // connector's fields are nobody's: refused without a CRM call.
    const connector = known ? this.options.connectors.get(known.tenant.crm) : this.options.connectors.forAuth(auth);
    // A connection key that stopped working waits for its OAuth connection to be made again (/connect/hubspot).
    if (known && isConnectionKeyAuth(auth) && known.credential.status !== 'working') throw new UnknownCredentialsError();
    if (!connector) {
      if (known && known.credential.status === 'working') return { ...known, onboarded: false };
      throw new UnknownCredentialsError();
    }
    let account: CrmAccount;
    try {
      account = await this.verify(connector, auth);
    } catch (err) {
      // A known credential the CRM now refuses stops being used (the workers move to another);
      // an expired OAuth token is no failure, it is simply not valid any more.
      if (known?.credential.status === 'working' && err instanceof UnknownCredentialsError) await markCredentialFailed(this.options.db, known.credential.id, 'refused by the CRM at validation');
      throw err;
    }
    if (!known) {
      // A new credential: of an account the bridge serves (one more credential), or of a new one,
      // which ONBOARDING decides about; an account an operator deleted stays out.
      const { db, mode = 'open' } = this.options;
      if (await isAccountRefused(db, connector.kind, account.accountId)) throw new AccountRefusedError();
      const served = await tenantOfAccount(db, connector.kind, account.accountId);
      if (!served && mode === 'closed') throw new AccountRefusedError();
      return { ...(await this.accept(connector, account, auth, { initialStatus: mode === 'approval' ? 'awaiting_approval' : 'backfilling' })), onboarded: !served };
    }
    const tenant = await credentialReverified(this.options.db, this.options.ingest, known.tenant.id, known.credential.id, account.allows ?? []);
    return { tenant, credential: { ...known.credential, status: 'working' }, onboarded: false };
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
        throw new CrmVerificationUnavailableError();
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

  /** Verified credentials join (or create) their account's tenant, whose ingest is then scheduled. */
  private accept(
    connector: Connector,
    account: CrmAccount,
    auth: Record<string, unknown>,
    { rename = false, initialStatus }: { rename?: boolean; initialStatus?: Tenant['status'] } = {},
  ) {
    const { db, keys, ingest } = this.options;
    return credentialsVerified(
      db,
      keys,
      ingest,
      { crm: connector.kind, accountId: account.accountId, name: account.accountName, auth, allows: account.allows ?? [], initialStatus },
      { rename },
    );
  }
}

/**
 * Whether a known credential answers syncs without a CRM call: one that works, or a Talkdesk-managed
 * OAuth token the CRM reported expired (its tenant's mirror is still served; Talkdesk sends a fresh
 * token with a later call).
 */
export function answersSyncs(credential: Credential): boolean {
  return credential.status === 'working' || credential.status === 'expired';
}

/** A tenant awaiting an operator's approval is answered 401 until then, whatever its credentials. */
export function servable<T extends { tenant: Tenant }>(resolution: T): T {
  if (resolution.tenant.status === 'awaiting_approval') throw new AwaitingApprovalError();
  return resolution;
}
