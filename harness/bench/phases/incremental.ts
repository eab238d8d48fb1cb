import { jsonPoster } from '../http-post.js';
import { progress } from '../progress.js';
import { summarize, type Summary } from '../stats.js';

export interface IncrementalFigures {
  /** The server's own time (its Server-Timing header). */
  server: Summary;
  /** As the client saw it: loopback HTTP and parsing included. */
  client: Summary;
}

/**
 * The most frequent request in production: Talkdesk's periodic incremental run when nothing
 * changed since its checkpoint. One page, no contacts.
 */
export async function incrementalNoChange(baseUrl: string, auth: Record<string, unknown>, checkpoint: string, requests: number): Promise<IncrementalFigures> {
  const server: number[] = [];
  const client: number[] = [];
  const body = JSON.stringify({ auth, meta: { synchronization_checkpoint: checkpoint } });
  const bar = progress('incremental sync, nothing changed', requests, 'requests');
  const poster = jsonPoster(new URL('/contact_sync', baseUrl));
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    const res = await poster.post(body);
    const page = JSON.parse(res.body) as { contacts?: unknown[]; next_offset?: unknown };
    client.push(performance.now() - started);
    if (res.status !== 200 || page.contacts?.length !== 0 || page.next_offset !== undefined) {
      throw new Error(`incremental run with an up-to-date checkpoint: HTTP ${res.status} ${JSON.stringify(page).slice(0, 300)}`);
    }
    const timing = /app;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''));
    if (!timing) throw new Error('no Server-Timing header');
    server.push(Number(timing[1]));
    bar.increment();
  }
  bar.stop();
  poster.close();
  return { server: summarize(server), client: summarize(client) };
}
