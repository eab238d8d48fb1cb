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
}

/** What a figure was measured on: a ratio travels between machines, an absolute number does not. */
export async function machine(db: Db): Promise<Machine> {
  const { rows } = await db.execute<{ v: string }>(sql`SELECT current_setting('server_version') AS v`);
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres: rows[0]!.v,
  };
}
