import type { Contact } from '../../../src/mirror/contact.js';
import type { WriteCounts } from '../../../src/mirror/writer.js';
import { benchContact } from '../contacts.js';
import { progress } from '../progress.js';
import { jsonPoster } from '../http-post.js';

/**
 * Writes one batch: the mirror writer in process, or the admin PUT over HTTP. `prepare` is the
 * caller's own work (serializing the body), done before the clock starts.
 */
export interface BatchWriter<T = unknown> {
  prepare(batch: Contact[]): T;
  write(prepared: T): Promise<WriteCounts>;
}

export const inProcessWriter = (write: (batch: Contact[]) => Promise<WriteCounts>): BatchWriter<Contact[]> => ({
  prepare: (batch) => batch,
  write,
});

export interface WriteRun {
  contacts: number;
  /** Time inside the writer (or the HTTP request) only; generating the contacts is not counted. */
  seconds: number;
  perSecond: number;
  counts: WriteCounts;
}

/**
 * Writes contacts [from, to) at `version` in batches and checks the writer's counts say what
 * the phase expects (all inserted, all unchanged, all updated), so a figure is never measured on
 * work that was not done.
 */
export async function writeRange(
  label: string,
  writer: BatchWriter,
  { from, to, version, batchSize, expect }: { from: number; to: number; version: number; batchSize: number; expect: keyof WriteCounts },
): Promise<WriteRun> {
  const bar = progress(label, to - from, 'contacts');
  const counts: WriteCounts = { inserted: 0, updated: 0, unchanged: 0, deleted: 0 };
  let ms = 0;
  for (let start = from; start < to; start += batchSize) {
    const batch = Array.from({ length: Math.min(batchSize, to - start) }, (_, k) => benchContact(start + k, version));
    const prepared = writer.prepare(batch);
    const started = performance.now();
    const c = await writer.write(prepared);
    ms += performance.now() - started;
    for (const k of Object.keys(counts) as (keyof WriteCounts)[]) counts[k] += c[k];
    bar.increment(batch.length);
  }
  bar.stop();
  if (counts[expect] !== to - from) throw new Error(`${label}: expected ${to - from} ${expect}, the writer said ${JSON.stringify(counts)}`);
  return { contacts: to - from, seconds: ms / 1000, perSecond: (to - from) / (ms / 1000), counts };
}

/**
 * The admin API's contacts push, as an operator's script would call it, on a kept-alive
 * connection. The body is encoded before the clock starts (`prepare`), so the figure is the
 * server's: receiving, parsing, validating and writing.
 */
export function httpWriter(baseUrl: string, adminToken: string, tenantId: string): BatchWriter<Buffer> & { close(): void } {
  const poster = jsonPoster(new URL(`/admin/tenants/${tenantId}/contacts`, baseUrl), {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminToken}` },
    timeoutMs: 120_000,
  });
  return {
    prepare: (batch) => Buffer.from(JSON.stringify(batch)),
    write: async (body) => {
      const res = await poster.post(body);
      if (res.status !== 200) throw new Error(`admin PUT: HTTP ${res.status} ${res.body}`);
      return JSON.parse(res.body) as WriteCounts;
    },
    close: () => poster.close(),
  };
}

export interface RewriteFigures {
  unchanged: WriteRun;
  changed: WriteRun;
  /** How many times faster a rewrite that changes nothing is than one that changes everything. */
  ratio: number;
}

/** Rewrites `count` contacts unchanged (must all be skipped), then changed (must all be updated). */
export async function rewrite(label: string, write: BatchWriter, count: number, batchSize: number, version: number): Promise<RewriteFigures> {
  const unchanged = await writeRange(`${label}: unchanged`, write, { from: 0, to: count, version: version - 1, batchSize, expect: 'unchanged' });
  const changed = await writeRange(`${label}: changed`, write, { from: 0, to: count, version, batchSize, expect: 'updated' });
  return { unchanged, changed, ratio: unchanged.perSecond / changed.perSecond };
}
