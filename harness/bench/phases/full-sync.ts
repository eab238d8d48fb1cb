import { runSync } from '../../../src/cli/talkdesk-client.js';
import { jsonPoster, posterSyncCall } from '../http-post.js';
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
 * A whole initial sync as Talkdesk's synchronizer runs it (the product's client,
 * src/cli/talkdesk-client.ts), on a kept-alive connection. Contacts are counted and dropped, as a
 * client streaming them into its own store would.
 */
export async function fullSync(baseUrl: string, auth: Record<string, unknown>, expected: number, label: string): Promise<FullSyncRun> {
  const bar = progress(label, expected, 'contacts');
  const poster = jsonPoster(new URL('/contact_sync', baseUrl));
  let bytes = 0;
  let serverMs = 0;
  const call = posterSyncCall(poster, (answer) => {
    bytes += answer.body.length;
    serverMs += Number(/app;dur=([\d.]+)/.exec(String(answer.headers['server-timing']))?.[1] ?? Number.NaN);
  });
  const run = await runSync(call, { auth, keepContacts: false, onPage: (page) => bar.increment(page.contacts.length) }).finally(() => {
    bar.stop();
    poster.close();
  });
  if (run.total !== expected) throw new Error(`${label}: ${run.total} contacts synced, ${expected} expected`);
  if (!run.checkpoint) throw new Error(`${label}: the last page has no checkpoint`);
  return { seconds: run.seconds, pages: run.pages, contacts: run.total, bytes, serverSeconds: serverMs / 1000, checkpoint: run.checkpoint };
}
