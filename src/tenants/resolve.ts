import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/client.js';
import type { Tenant } from '../db/schema.js';
import type { BridgeKeys } from './keys.js';
import type { Onboarding } from './onboarding.js';
import { UnknownCredentialsError } from './errors.js';
import { findTenantByAuth } from './repository.js';

/**
 * The tenant a request's `auth` belongs to: a known, working one straight from the database;
 * otherwise through onboarding (verify with the CRM, create or update the tenant). Without a
 * CRM connector, unknown or failed credentials are simply refused. Attempts with credentials
 * that match no tenant count against the request's client (unknown-credentials-limit.ts).
 */
export async function resolveTenant(deps: { db: Db; keys: BridgeKeys; onboarding?: Onboarding }, auth: Record<string, unknown>, request: FastifyRequest): Promise<Tenant> {
  const admitUnknown = () => request.server.admitUnknownCredentials(request);
  if (deps.onboarding) return (await deps.onboarding.resolve(auth, admitUnknown)).tenant;
  const tenant = await findTenantByAuth(deps.db, deps.keys, auth);
  if (!tenant) await admitUnknown();
  if (!tenant || tenant.status === 'credentials_failed') throw new UnknownCredentialsError();
  return tenant;
}
