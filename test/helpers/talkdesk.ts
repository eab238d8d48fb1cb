import { runSync, type SyncCall } from '../../src/cli/talkdesk-client.js';
import type { Contact } from '../../src/mirror/contact.js';

/**
 * A Talkdesk-style synchronizer as the protocol describes it: the project's own client
 * (src/cli/talkdesk-client.ts), driven through the app in-process instead of over the network.
 */
export interface SyncRun {
  contacts: Contact[];
  pages: number;
  checkpoint: string | undefined;
  /** The checkpoint each page carried (undefined where it had none). */
  pageCheckpoints: Array<string | undefined>;
}

export async function syncRun(call: SyncCall, auth: Record<string, unknown>, checkpoint?: string): Promise<SyncRun> {
  const pageCheckpoints: Array<string | undefined> = [];
  const run = await runSync(call, { auth, checkpoint, onPage: (page) => pageCheckpoints.push(page.checkpoint ?? undefined) });
  return { contacts: run.contacts, pages: run.pages, checkpoint: run.checkpoint ?? undefined, pageCheckpoints };
}
