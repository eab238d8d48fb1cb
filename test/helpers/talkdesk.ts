import { runSync } from '../../src/cli/sync-run.js';

/**
 * A Talkdesk-style synchronizer as the protocol describes it: the project's own client
 * (src/cli/sync-run.ts), driven through the app in-process instead of over the network.
 */
export interface SyncRun {
  contacts: Array<Record<string, unknown> & { id: string }>;
  pages: number;
  checkpoint: string | undefined;
  /** The checkpoint each page carried (undefined where it had none). */
  pageCheckpoints: Array<string | undefined>;
}

export type SyncCall = (body: unknown) => Promise<{ statusCode: number; body: any }>;

export async function syncRun(call: SyncCall, auth: Record<string, unknown>, checkpoint?: string): Promise<SyncRun> {
  // A fetch whose every request is one call of the sync endpoint (app.inject under the hood).
  const fetchViaCall: typeof fetch = async (_url, init) => {
    const res = await call(JSON.parse(String(init?.body)));
    return new Response(JSON.stringify(res.body), { status: res.statusCode, headers: { 'content-type': 'application/json' } });
  };
  const pageCheckpoints: Array<string | undefined> = [];
  const run = await runSync({
    url: 'http://bridge.invalid/contact_sync',
    auth,
    checkpoint,
    fetch: fetchViaCall,
    onPage: (page) => pageCheckpoints.push(page.checkpoint ?? undefined),
  });
  return { contacts: run.contacts, pages: run.pages, checkpoint: run.checkpoint ?? undefined, pageCheckpoints };
}
