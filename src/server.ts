// The process: read the configuration, connect, migrate, listen, and close gracefully.
import { existsSync } from 'node:fs';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createDatabase } from './db/client.js';
import { runMigrations } from './db/migrate.js';

// A local .env (see .env.example) is a convenience for development; real environment variables win.
if (existsSync('.env')) process.loadEnvFile('.env');

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const database = createDatabase({ url: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE });
if (config.MIGRATE_ON_START) await runMigrations(database.db);

const app = await buildApp({ config, db: database.db, logger: { level: config.LOG_LEVEL } });

let closing = false;
async function shutdown(signal: string): Promise<void> {
  if (closing) return;
  closing = true;
  app.log.info({ signal }, 'shutting down');
  // Stop accepting, let in-flight requests finish, then release the database.
  await app.close();
  await database.close();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ port: config.PORT, host: config.HOST });
