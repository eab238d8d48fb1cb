import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';

/**
 * Runs `COPY (<select>) TO STDOUT (FORMAT binary)` and returns the rows' fields as raw bytes
 * (null for SQL NULL). node-postgres decodes every text value into a JavaScript string; for the
 * sync page, already JSON, that decoding and the encoding back to bytes for the socket were a
 * third of the server's time, and COPY's binary format hands the bytes over untouched.
 * https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.4
 */
export async function copyRowsBinary(client: pg.PoolClient, select: string): Promise<(Buffer | null)[][]> {
  const chunks: Buffer[] = [];
  const copy = client.query(copyStreams.to(`COPY (${select}) TO STDOUT (FORMAT binary)`));
  try {
    await pipeline(
      copy,
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      }),
    );
  } finally {
    disarmQueryTimeout(copy);
  }
  return parseBinaryCopy(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

export function parseBinaryCopy(data: Buffer): (Buffer | null)[][] {
  if (!data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw new Error('not PostgreSQL binary COPY data');
  let at = SIGNATURE.length + 4; // flags
  at += 4 + data.readUInt32BE(at); // header extension
  const rows: (Buffer | null)[][] = [];
  for (;;) {
    const fields = data.readInt16BE(at);
    at += 2;
    if (fields === -1) return rows;
    const row: (Buffer | null)[] = [];
    for (let f = 0; f < fields; f++) {
      const length = data.readInt32BE(at);
      at += 4;
      if (length === -1) {
        row.push(null);
      } else {
        row.push(data.subarray(at, at + length));
        at += length;
      }
    }
    rows.push(row);
  }
}

/**
 * node-postgres arms a timer for its query_timeout on every query and disarms it through the
 * query's callback, which pg-copy-streams never calls: the timer outlived each COPY and fired 30 s
 * later on the finished stream (and kept a process that should exit alive that long).
 */
export function disarmQueryTimeout(query: unknown): void {
  (query as { callback?: (err: Error | null) => void }).callback?.(null);
}
