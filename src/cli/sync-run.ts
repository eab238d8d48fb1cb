/**
 * One Talkdesk-style contact-sync run against a bridge, as the protocol describes it
 * (../shared/talkdesk-contact-sync.md): POST `{ auth, meta }`, follow `next_offset` (sending the
 * same checkpoint and the returned `context`) until a page has none, keep the last page's
 * checkpoint. Global fetch keeps the connection alive between pages.
 */

export type Contact = Record<string, unknown> & { id: string };

export interface PageInfo {
  /** 1-based page number within the run. */
  page: number;
  /** The contacts of this page. */
  contacts: Contact[];
  /** Contacts received so far in the run, this page included. */
  total: number;
  /** How long this page's request took, in seconds. */
  seconds: number;
  /** The checkpoint this page carried, or null. */
  checkpoint: string | null;
}

export interface RunSyncOptions {
  /** The bridge's contact-sync endpoint, e.g. http://127.0.0.1:3000/contact_sync. */
  url: string | URL;
  /** The credentials object Talkdesk sends as `auth`. */
  auth: Record<string, unknown>;
  /** A checkpoint from a previous run: makes this run incremental. */
  checkpoint?: string | undefined;
  /** Defaults to the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Called after every page. */
  onPage?: (page: PageInfo) => void;
}

export interface SyncResult {
  contacts: Contact[];
  pages: number;
  /** The last page's checkpoint; null when it had none (the next run is then a full one). */
  checkpoint: string | null;
  /** Wall time of the whole run. */
  seconds: number;
}

/** A page answered with something other than 200. `body` is the parsed JSON error (or the raw text). */
export class SyncHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly page: number,
  ) {
    super(`sync page ${page}: HTTP ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.name = 'SyncHttpError';
  }
}

export async function runSync(options: RunSyncOptions): Promise<SyncResult> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const started = performance.now();
  const contacts: Contact[] = [];
  let pages = 0;
  let checkpoint: string | null;
  let offset: string | undefined;
  let context: unknown = null;

  for (;;) {
    const page = pages + 1;
    const meta: Record<string, unknown> = {};
    if (options.checkpoint !== undefined) meta.synchronization_checkpoint = options.checkpoint;
    if (offset !== undefined) {
      meta.offset = offset;
      meta.context = context;
    }
    const pageStarted = performance.now();
    const res = await doFetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ auth: options.auth, meta }),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = text;
    }
    if (res.status !== 200) throw new SyncHttpError(res.status, body ?? text, page);
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { contacts?: unknown }).contacts)) {
      throw new Error(`sync page ${page}: HTTP 200 without a contacts array: ${text.slice(0, 200)}`);
    }
    const answer = body as { contacts: Contact[]; next_offset?: unknown; synchronization_checkpoint?: unknown; context?: unknown };
    pages = page;
    for (const c of answer.contacts) contacts.push(c);
    checkpoint = typeof answer.synchronization_checkpoint === 'string' ? answer.synchronization_checkpoint : null;
    options.onPage?.({
      page,
      contacts: answer.contacts,
      total: contacts.length,
      seconds: (performance.now() - pageStarted) / 1000,
      checkpoint,
    });
    if (answer.next_offset === undefined || answer.next_offset === null) break;
    if (typeof answer.next_offset !== 'string') {
      throw new Error(`sync page ${page}: next_offset is not a string: ${JSON.stringify(answer.next_offset)}`);
    }
    offset = answer.next_offset;
    context = answer.context ?? null;
  }

  return { contacts, pages, checkpoint, seconds: (performance.now() - started) / 1000 };
}
