import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/client.js';
import type { BridgeKeys } from './keys.js';
import { answersSyncs, servable, type Onboarding, type Resolution } from './onboarding.js';
import { UnknownCredentialsError } from './errors.js';
import { findCredential } from './credentials.js';

/**
 * The tenant and credential a request's `auth` is: a known, working credential straight from the
 * database; otherwise through onboarding (verify with the CRM, join or create the tenant).
 * Without a CRM connector, unknown or failed credentials are simply refused. Attempts with
 * credentials that match none count against the request's client (unknown-credentials-limit.ts).
 * The caller records the use: a sync page with what it delivered (tenants/delivery-record.ts), in
 * the one statement that also marks the credential used.
 */
export async function resolveTenant(
  deps: { db: Db; keys: BridgeKeys; onboarding?: Onboarding },
  auth: Record<string, unknown>,
  request: FastifyRequest,
): Promise<Resolution> {
  const admitUnknown = () => request.server.admitUnknownCredentials(request);
  const resolution = deps.onboarding
    ? await deps.onboarding.resolve(auth, admitUnknown)
    : await (async () => {
        const known = await findCredential(deps.db, deps.keys, auth);
        if (!known) await admitUnknown();
        if (!known || !answersSyncs(known.credential)) throw new UnknownCredentialsError();
        return servable({ ...known, onboarded: false });
      })();
  return resolution;
}
