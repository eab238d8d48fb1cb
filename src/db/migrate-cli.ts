// `npm run migrate`: applies pending migrations and exits; needs only DATABASE_URL.
import { Type } from '@sinclair/typebox';
import { ConfigError, ConfigSchema, loadEnv } from '../config.js';
import { createDatabase } from './client.js';
import { runMigrations } from './migrate.js';

try {
  const { DATABASE_URL } = loadEnv(Type.Pick(ConfigSchema, ['DATABASE_URL']));
  const database = createDatabase({ url: DATABASE_URL, max: 1, applicationName: 'contact-bridge-migrate' });
  try {
    await runMigrations(database.db);
    console.log('migrations applied');
  } finally {
    await database.close();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `migration failed: ${(err as Error).message}`);
  process.exitCode = 1;
}
