import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { buildApp, type App } from '../../../src/app.js';
import { loadConfig, type Config } from '../../../src/config.js';
import { createDatabase, type Database } from '../../../src/db/client.js';
import { runMigrations } from '../../../src/db/migrate.js';
import { withClient } from '../../../src/db/with-client.js';
import { createConnector } from '../../../src/crm/create-connector.js';
import { buildHubSpotSim, type HubSpotSim } from '../../hubspot-sim/server.js';
import { Metrics } from '../../../src/metrics/registry.js';
import { deriveKeys, type BridgeKeys } from '../../../src/tenants/keys.js';
import { startWorkers, type RunningWorkers } from '../../../workers/index.js';
import { connectApiQueue } from '../../../workers/api-queue.js';
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
 * loopback port, put together as src/server.ts does (the workers with a pool of their own, as
 * in a separate ROLE=worker process).
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

    const config = loadConfig({
      ...settings.serverEnv,
      DATABASE_URL: url.toString(),
      REDIS_URL: settings.redisUrl,
      QUEUE_PREFIX: `cbload${randomBytes(4).toString('hex')}`,
      BRIDGE_SECRET: 'load-secret-load-secret-load-secret-0123',
      HUBSPOT_BASE_URL: `http://127.0.0.1:${(sim.app.server.address() as { port: number }).port}`,
      // The HubSpot tenants take in the simulator's edits every couple of seconds during the load.
      SYNC_INTERVAL_SECONDS: '2',
      HUBSPOT_SEARCH_OVERLAP_SECONDS: '0',
      LOG_LEVEL: 'silent',
    });
    const server = createDatabase({ url: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE });
    closers.push(() => server.close());
    await runMigrations(server.db);
    const writer = createDatabase({ url: config.DATABASE_URL, max: 4, applicationName: 'contact-bridge-load-writer' });
    closers.push(() => writer.close());
    // The workers get a pool of their own, as a ROLE=worker process has: each running job holds a
    // connection for its advisory lock, which would starve the other writers of a shared one.
    const ingest = createDatabase({ url: config.DATABASE_URL, max: config.WORKER_CONCURRENCY + 4, applicationName: 'contact-bridge-load-workers' });
    closers.push(() => ingest.close());

    const keys = deriveKeys(config.BRIDGE_SECRET);
    const metrics = new Metrics();
    const connector = createConnector(config, { onResponse: metrics.countCrmResponse });
    const workers = await startWorkers({ config, db: ingest.db, pool: ingest.pool, keys, connector, log: pino({ level: 'silent' }), metrics });
    closers.push(async () => {
      // Emptied while its connection is still open; then closed.
      await workers.worker.close();
      await workers.queue.obliterate({ force: true });
      await workers.close();
    });

    const api = connectApiQueue(config.REDIS_URL, config.QUEUE_PREFIX, config.SYNC_INTERVAL_SECONDS * 1000);
    closers.push(api.close);
    const app = await buildApp({
      config,
      db: server.db,
      connector,
      ingest: api.ingest,
      queue: api.queue,
      metrics,
      checkRedis: true,
    });
    closers.push(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };

    return { config, keys, server, writer, app, baseUrl: `http://127.0.0.1:${port}`, sim, workers, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The simulated HubSpot portals of the load, and the private-app token each is reached with. */
export function hubspotPortals(count: number): Array<{ portalId: number; tokens: [string] }> {
  return Array.from({ length: count }, (_, i) => ({ portalId: 70_000 + i, tokens: [`load-hubspot-token-${i}`] }));
}
