import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

export interface CopyRun {
  seconds: number;
  bytes: number;
}

/**
 * The reference for a full sync: PostgreSQL streaming the same tenant's live contacts, the
 * fields the response carries, as JSON in key order, with nothing in between (no pages, no
 * HTTP, no parsing). No bridge can serve a full sync faster than its database can produce it.
 */
export async function copyLimit(pool: pg.Pool, tenantId: string): Promise<CopyRun> {
  if (!/^[0-9a-f-]{36}$/.test(tenantId)) throw new Error('tenant id is not a uuid'); // inlined below: COPY takes no parameters
  const client = await pool.connect();
  try {
    let bytes = 0;
    const started = performance.now();
    await pipeline(
      client.query(
        copyStreams.to(`COPY (
          SELECT row_to_json(c) FROM (
            SELECT id, name, company, title, emails, phones, photo_url, address, websites, twitter, url
            FROM contacts
            WHERE tenant_id = '${tenantId}' AND deleted_at IS NULL
            ORDER BY updated_at, id
          ) c
        ) TO STDOUT`),
      ),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done();
        },
      }),
    );
    return { seconds: (performance.now() - started) / 1000, bytes };
  } finally {
    client.release();
  }
}
