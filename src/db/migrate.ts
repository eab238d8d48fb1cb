import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type { Db } from './client.js';

/** The migrations folder, found from this file so it works from src/ (tests) and dist/src/ (npm start). */
export const migrationsFolder = fileURLToPath(
  new URL(import.meta.url.includes('/dist/') ? '../../../migrations' : '../../migrations', import.meta.url),
);

export async function runMigrations(db: Db): Promise<void> {
  await migrate(db, { migrationsFolder });
}
