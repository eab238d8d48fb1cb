/**
 * A Talkdesk-style synchronizer as the protocol describes it: follows next_offset (with the
 * same checkpoint and the returned context) until a page has none, and keeps the checkpoint of
 * the last page.
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
  const run: SyncRun = { contacts: [], pages: 0, checkpoint: undefined, pageCheckpoints: [] };
  let offset: string | undefined;
  let context: unknown = null;
  for (;;) {
    const meta: Record<string, unknown> = {};
    if (checkpoint !== undefined) meta.synchronization_checkpoint = checkpoint;
    if (offset !== undefined) {
      meta.offset = offset;
      meta.context = context;
    }
    const res = await call({ auth, meta });
    if (res.statusCode !== 200) throw new Error(`sync page ${run.pages + 1}: ${res.statusCode} ${JSON.stringify(res.body)}`);
    run.pages++;
    run.contacts.push(...res.body.contacts);
    run.pageCheckpoints.push(res.body.synchronization_checkpoint);
    run.checkpoint = res.body.synchronization_checkpoint;
    if (res.body.next_offset === undefined) return run;
    offset = res.body.next_offset;
    context = res.body.context ?? null;
  }
}
