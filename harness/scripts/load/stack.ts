import { randomBytes } from 'node:crypto';
import type { App } from '../../../src/app.js';
import { loadConfig, type Config } from '../../../src/config.js';
import { createDatabase, type Database } from '../../../src/db/client.js';
import { withClient } from '../../../src/db/with-client.js';
import { buildRuntime } from '../../../src/runtime.js';
import type { BridgeKeys } from '../../../src/tenants/keys.js';
import type { RunningWorkers } from '../../../workers/index.js';
import { buildHubSpotSim, type HubSpotSim } from '../../hubspot-sim/server.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../../queues/prefix.js';
import type { LoadSettings } from './settings.js';

export interface LoadStack {
  config: Config;
  keys: BridgeKeys;
  /** The server's own pool, as server.ts makes it (DATABASE_POOL_SIZE). */
  server: Database;
  /** The seeding and the edit loop write through this one, as another process pushing contacts would. */
  writer: Database;
  app: App;
  baseUrl: string;
  sim: HubSpotSim;
  workers: RunningWorkers;
  close(): Promise<void>;
}

/**
 * What `npm run load` runs against: its own database and queue prefix on the given PostgreSQL
 * and Redis, the simulated HubSpot, the ingest workers, and the bridge's real app listening on a
 * loopback port: a ROLE=api and a ROLE=worker process built by the composition root, each with
 * its pool (each running job holds a connection for its advisory lock, which would starve the
 * API of a shared one).
 */
export async function startLoadStack(settings: LoadSettings): Promise<LoadStack> {
  const dbName = `cb_load_${randomBytes(5).toString('hex')}`;
  await withClient(settings.adminDatabaseUrl, (c) => c.query(`CREATE DATABASE ${dbName}`));
  const url = new URL(settings.adminDatabaseUrl);
  url.pathname = `/${dbName}`;
  const closers: Array<() => Promise<unknown>> = [
    () => withClient(settings.adminDatabaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)),
  ];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer().catch((err: Error) => console.error(`load: while closing: ${err.message}`));
  };

  try {
    const sim = await buildHubSpotSim({
      portals: hubspotPortals(settings.hubspotTenants).map((portal) => ({ ...portal, contacts: settings.contactsPerTenant })),
    });
    await sim.app.listen({ port: 0, host: '127.0.0.1' });
    closers.push(() => sim.app.close());

    const env: Record<string, string> = {
      ...settings.serverEnv,
      DATABASE_URL: url.toString(),
      REDIS_URL: settings.redisUrl,
      QUEUE_PREFIX: newQueuePrefix('cbload'),
      ROLE: 'api',
      HOST: '127.0.0.1',
      PORT: '0',
      BRIDGE_SECRET: 'load-secret-load-secret-load-secret-0123',
      HUBSPOT_BASE_URL: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`,
      // The HubSpot tenants take in the simulator's edits every couple of seconds during the load.
      SYNC_INTERVAL_SECONDS: '2',
      HUBSPOT_SEARCH_OVERLAP_SECONDS: '0',
      LOG_LEVEL: 'silent',
    };
    const config = loadConfig(env);
    closers.push(() => obliterateQueuePrefix(config.REDIS_URL, config.QUEUE_PREFIX));
    const api = await buildRuntime(config);
    closers.push(() => api.close());
    const writer = createDatabase({ url: config.DATABASE_URL, max: 4, applicationName: 'contact-bridge-load-writer' });
    closers.push(() => writer.close());
    const worker = await buildRuntime(
      loadConfig({ ...env, ROLE: 'worker', MIGRATE_ON_START: 'false', DATABASE_POOL_SIZE: String(config.WORKER_CONCURRENCY + 4) }),
    );
    closers.push(() => worker.close());
    const baseUrl = await api.listen();
    const { keys, database: server } = api;
    const app = api.app!;
    const workers = worker.workers!;

    return { config, keys, server, writer, app, baseUrl, sim, workers, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The simulated HubSpot portals of the load, and the private-app token each is reached with. */
export function hubspotPortals(count: number): Array<{ portalId: number; tokens: [string] }> {
  return Array.from({ length: count }, (_, i) => ({ portalId: 70_000 + i, tokens: [`load-hubspot-token-${i}`] }));
}

