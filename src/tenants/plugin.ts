import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ConnectorRegistry } from '../crm/registry.js';
import type { BridgeKeys } from './keys.js';
import type { Onboarding, Resolution } from './onboarding.js';
import { resolveTenant } from './resolve.js';

/** What the routes need of tenants: the keys, onboarding, and the tenant and credential an `auth` is. */
export interface TenantDirectory {
  keys: BridgeKeys;
  /** The CRM connectors this process enables (none: only tenants registered through the admin API exist). */
  connectors: ConnectorRegistry;
  /** Absent when no CRM connector is enabled. */
  onboarding?: Onboarding;
  resolve(auth: Record<string, unknown>, request: FastifyRequest): Promise<Resolution>;
}

declare module 'fastify' {
  interface FastifyInstance {
    tenants: TenantDirectory;
  }
}

export default fp(
  async function tenantsPlugin(app: FastifyInstance, { keys, connectors, onboarding }: Omit<TenantDirectory, 'resolve'>) {
    app.decorate('tenants', {
      keys,
      connectors,
      onboarding,
      resolve: (auth, request) => resolveTenant({ db: app.db, keys, onboarding }, auth, request),
    } satisfies TenantDirectory);
  },
  { name: 'tenants', dependencies: ['db', 'unknown-credentials-limit'] },
);
