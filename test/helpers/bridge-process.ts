import type { Logger } from 'pino';
import { pino } from 'pino';
import type { Test } from 'tap';
import type { App } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import type { RunningWorkers } from '../../workers/index.js';
import { newQueuePrefix, obliterateQueuePrefix } from '../../harness/queues/prefix.js';
import { buildTestRuntime } from './app.js';
import type { TestDatabase } from './database.js';
import { injectSyncCall, type SyncCall } from '../../src/cli/talkdesk-client.js';

export interface BridgeProcess {
  app: App;
  config: Config;
  workers: RunningWorkers;
  sync: SyncCall;
  /** Stops it as SIGTERM would: the API, then the workers. Also done in teardown. */
  close(): Promise<void>;
}

/** A queue prefix of the test's own, obliterated in teardown, for bridges that share one queue. */
export async function queuePrefix(t: Test, redisUrl: string): Promise<string> {
  const prefix = newQueuePrefix('cbtest');
  t.teardown(() => obliterateQueuePrefix(redisUrl, prefix));
  return prefix;
}

/**
 * One bridge process (ROLE=all) on a given database, built by the composition root from `env`
 * as server.ts builds it. Two of them in turn on one database and queue prefix stand for a
 * restart with a new configuration.
 */
export async function startBridgeProcess(
  t: Test,
  database: TestDatabase,
  env: Record<string, string>,
  logger: Logger = pino({ level: 'silent' }),
): Promise<BridgeProcess> {
  const runtime = await buildTestRuntime(t, database, { ROLE: 'all', CRM: 'all', ...env }, { logger, reconcileSchedulesMs: 1_000 });
  const app = runtime.app!;
  const { config } = runtime;
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= runtime.close());
  t.teardown(close);
  const sync = injectSyncCall(app, config.SYNC_PATH);
  return { app, config, workers: runtime.workers!, sync, close };
}
