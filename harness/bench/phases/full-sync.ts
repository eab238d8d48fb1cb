import { jsonPoster } from '../http-post.js';
import { progress } from '../progress.js';

export interface FullSyncRun {
  seconds: number;
  pages: number;
  contacts: number;
  bytes: number;
  /** The server's own time over the run's pages (their Server-Timing headers). */
  serverSeconds: number;
  checkpoint: string;
}

/**
 * A whole initial sync as Talkdesk's synchronizer runs it: POST page after page on a kept-alive
 * connection, parse every page, follow next_offset with its context, keep the last checkpoint.
 * Contacts are counted and dropped, as a client streaming them into its own store would.
 */
export async function fullSync(baseUrl: string, auth: Record<string, unknown>, expected: number, label: string): Promise<FullSyncRun> {
  const bar = progress(label, expected, 'contacts');
  const poster = jsonPoster(new URL('/contact_sync', baseUrl));
  const started = performance.now();
  let pages = 0;
  let contacts = 0;
  let bytes = 0;
  let serverMs = 0;
  let meta: Record<string, unknown> = {};
  for (;;) {
    const res = await poster.post(JSON.stringify({ auth, meta }));
    if (res.status !== 200) throw new Error(`sync page ${pages + 1}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    bytes += res.body.length;
    serverMs += Number(/app;dur=([\d.]+)/.exec(String(res.headers['server-timing']))?.[1] ?? Number.NaN);
    const page = JSON.parse(res.body) as { contacts: unknown[]; next_offset?: string; context?: unknown; synchronization_checkpoint?: string };
    pages++;
    contacts += page.contacts.length;
    bar.increment(page.contacts.length);
    if (page.next_offset === undefined) {
      bar.stop();
      poster.close();
      if (contacts !== expected) throw new Error(`${label}: ${contacts} contacts synced, ${expected} expected`);
      if (!page.synchronization_checkpoint) throw new Error(`${label}: the last page has no checkpoint`);
      return { seconds: (performance.now() - started) / 1000, pages, contacts, bytes, serverSeconds: serverMs / 1000, checkpoint: page.synchronization_checkpoint };
    }
    meta = { offset: page.next_offset, context: page.context ?? null };
  }
}
