import os from 'node:os';
import { sql } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';

export interface Machine {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  /** 'default settings', or the durability settings that differ from them (a throwaway CI server's). */
  postgresSettings: string;
}

/** What a figure was measured on: a ratio travels between machines, an absolute number does not. */
export async function machine(db: Db): Promise<Machine> {
  const { rows } = await db.execute<{ v: string }>(sql`SELECT current_setting('server_version') AS v`);
  // A server tuned as CI's throwaway one (harness/scripts/local-services.sh) writes faster than
  // any real one: the report says so rather than pass its figures off as the defaults'.
  const { rows: changed } = await db.execute<{ name: string; setting: string }>(sql`
    SELECT name, setting FROM pg_settings
    WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes') AND setting <> boot_val ORDER BY name`);
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: rows[0]!.v,
    postgresSettings: changed.length === 0 ? 'default settings' : changed.map((c) => `${c.name}=${c.setting}`).join(', '),
  };
}
