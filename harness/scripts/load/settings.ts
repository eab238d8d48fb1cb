import { Type, type Static } from '@sinclair/typebox';
import { loadEnv } from '../../../src/config.js';

/** What `npm run load` reads from the environment, with its defaults. */
export const LoadEnvSchema = Type.Object({
  TEST_DATABASE_URL: Type.String({ default: 'postgres://bridge:bridge@127.0.0.1:5432/postgres', description: 'a role that may CREATE DATABASE; the load makes its own database and drops it' }),
  TEST_REDIS_URL: Type.String({ default: 'redis://127.0.0.1:6379', description: 'Redis for the HubSpot tenants\' ingest queue (its own prefix, obliterated at the end)' }),
  LOAD_TENANTS: Type.Integer({ minimum: 1, default: 200, description: 'tenants fed through the mirror writer' }),
  LOAD_CONTACTS: Type.Integer({ minimum: 1, default: 2000, description: 'contacts per tenant' }),
  LOAD_SECONDS: Type.Number({ exclusiveMinimum: 0, default: 15, description: 'how long each concurrency level runs' }),
  LOAD_LEVELS: Type.String({ pattern: '^\\d+(,\\d+)*$', default: '50,100,200', description: 'concurrent Talkdesk runs, one level after another' }),
  LOAD_OVERLOAD_CONCURRENCY: Type.Integer({ minimum: 0, default: 1000, description: 'concurrent runs of the overload phase, beyond capacity; 0 = no overload phase' }),
  LOAD_EDITS_PER_SECOND: Type.Integer({ minimum: 0, default: 200, description: 'contacts the background ingest loop rewrites per second through the mirror writer' }),
  LOAD_HUBSPOT_TENANTS: Type.Integer({ minimum: 0, default: 4, description: 'extra tenants onboarded from the simulated HubSpot and kept fresh by the real workers' }),
  LOAD_INCREMENTAL_SHARE: Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'share of runs that are incremental' }),
  LOAD_REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1, default: 30_000, description: 'a page request taking longer is a timeout' }),
  LOAD_OUTPUT: Type.String({ default: 'docs/load.md', description: 'where the report is written' }),
});
type LoadEnv = Static<typeof LoadEnvSchema>;

export interface LoadSettings {
  adminDatabaseUrl: string;
  redisUrl: string;
  tenants: number;
  contactsPerTenant: number;
  secondsPerLevel: number;
  levels: number[];
  overloadConcurrency: number;
  editsPerSecond: number;
  hubspotTenants: number;
  incrementalShare: number;
  requestTimeoutMs: number;
  output: string;
  /** Passed to the bridge's loadConfig under the load's own (DATABASE_POOL_SIZE, SYNC_PAGE_SIZE, OVERLOAD_*…). */
  serverEnv: NodeJS.ProcessEnv;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env): LoadSettings {
  const e: LoadEnv = loadEnv(LoadEnvSchema, env);
  return {
    adminDatabaseUrl: e.TEST_DATABASE_URL,
    redisUrl: e.TEST_REDIS_URL,
    tenants: e.LOAD_TENANTS,
    contactsPerTenant: e.LOAD_CONTACTS,
    secondsPerLevel: e.LOAD_SECONDS,
    levels: e.LOAD_LEVELS.split(',').map(Number),
    overloadConcurrency: e.LOAD_OVERLOAD_CONCURRENCY,
    editsPerSecond: e.LOAD_EDITS_PER_SECOND,
    hubspotTenants: e.LOAD_HUBSPOT_TENANTS,
    incrementalShare: e.LOAD_INCREMENTAL_SHARE,
    requestTimeoutMs: e.LOAD_REQUEST_TIMEOUT_MS,
    output: e.LOAD_OUTPUT,
    serverEnv: env,
  };
}
