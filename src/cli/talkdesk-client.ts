/**
 * Talkdesk's side of the contact-sync protocol (../shared/talkdesk-contact-sync.md), the one
 * client the sync command, the demo, the bench, chaos runs and the tests all drive: POST
 * `{ auth, meta }`, follow `next_offset` (sending the same checkpoint and the returned `context`)
 * until a page has none, keep the last page's checkpoint.
 *
 * A page is asked for through a `SyncCall`, so one loop runs over HTTP (`httpSyncCall`) or
 * in-process through Fastify's `app.inject` (`injectSyncCall`), or any transport a caller
 * measures on its own terms (the bench's node:http poster).
 */
import type { FastifyInstance } from 'fastify';
import type { Contact } from '../mirror/contact.js';

/** The body of one POST of the sync endpoint. */
export interface PageRequest {
  auth: Record<string, unknown>;
  meta: { synchronization_checkpoint?: string; offset?: string; context?: unknown };
}

/** An answer of the sync endpoint: its body parsed as JSON, or the raw text when it is not JSON. */
export interface SyncAnswer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: unknown;
}

/** One POST of the sync endpoint, however it travels. */
export type SyncCall = (request: PageRequest) => Promise<SyncAnswer>;

export function readAnswer(statusCode: number, headers: Record<string, unknown>, text: string): SyncAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { statusCode, headers, body };
}

/** Over HTTP with the global fetch, which keeps the connection alive between pages. */
export function httpSyncCall(url: string | URL): SyncCall {
  return async (request) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
    });
    return readAnswer(res.status, Object.fromEntries(res.headers), await res.text());
  };
}

/** In-process: every page is one `app.inject` of the sync endpoint at `path` (the app's SYNC_PATH). */
export function injectSyncCall(app: Pick<FastifyInstance, 'inject'>, path: string): SyncCall {
  return async (request) => {
    const res = await app.inject({ method: 'POST', url: path, payload: request });
    return readAnswer(res.statusCode, res.headers, res.body);
  };
}

/** A page answered with something other than 200. `body` is the parsed JSON error (or the raw text). */
export class SyncHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly page: number,
    readonly headers: Record<string, unknown>,
  ) {
    super(`sync page ${page}: HTTP ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.name = 'SyncHttpError';
  }
}

/** A 200 that is not a page of the protocol. */
export class SyncAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncAnswerError';
  }
}

export interface SyncPage {
  contacts: Contact[];
  /** Undefined on the last page of a run. */
  nextOffset: string | undefined;
  checkpoint: string | null;
  context: unknown;
}

/**
 * One page: the answer to `request`, checked as Talkdesk reads it. Throws SyncHttpError on a
 * status other than 200 and SyncAnswerError on a 200 that is not a page (or, when `pageSize` is
 * given, a page larger than the server's page size).
 */
export async function requestPage(call: SyncCall, request: PageRequest, page = 1, pageSize?: number): Promise<SyncPage> {
  const answer = await call(request);
  if (answer.statusCode !== 200) throw new SyncHttpError(answer.statusCode, answer.body, page, answer.headers);
  const body = answer.body;
  const invalid = (what: string) => new SyncAnswerError(`sync page ${page}: HTTP 200 ${what}`);
  const { contacts, next_offset, synchronization_checkpoint, context } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (!Array.isArray(contacts)) {
    throw invalid(`without a contacts array: ${(typeof body === 'string' ? body : String(JSON.stringify(body))).slice(0, 200)}`);
  }
  if (pageSize !== undefined && contacts.length > pageSize) throw invalid(`with ${contacts.length} contacts, more than a page of ${pageSize}`);
  if (next_offset !== undefined && next_offset !== null && typeof next_offset !== 'string') {
    throw invalid(`whose next_offset is not a string: ${JSON.stringify(next_offset)}`);
  }
  if (synchronization_checkpoint !== undefined && synchronization_checkpoint !== null && typeof synchronization_checkpoint !== 'string') {
    throw invalid(`whose synchronization_checkpoint is not a string: ${JSON.stringify(synchronization_checkpoint)}`);
  }
  return {
    contacts: contacts as Contact[],
    nextOffset: typeof next_offset === 'string' ? next_offset : undefined,
    checkpoint: typeof synchronization_checkpoint === 'string' ? synchronization_checkpoint : null,
    context: context ?? null,
  };
}

export interface PageInfo {
  /** 1-based page number within the run. */
  page: number;
  contacts: Contact[];
  /** Contacts received so far in the run, this page included. */
  total: number;
  /** From sending this page's request to having read its answer. */
  seconds: number;
  /** The checkpoint this page carried, or null. */
  checkpoint: string | null;
  /** No next_offset: the run ends with this page. */
  last: boolean;
}

export interface RunSyncOptions {
  /** The credentials object Talkdesk sends as `auth`. */
  auth: Record<string, unknown>;
  /** A checkpoint from a previous run: makes this run incremental. */
  checkpoint?: string | undefined;
  /** The server's page size, when known: a larger page is an invalid answer. */
  pageSize?: number | undefined;
  /** False: contacts are counted and handed to `onPage`, not gathered into the result. Default true. */
  keepContacts?: boolean;
  /** Called after every page. */
  onPage?: (page: PageInfo) => void;
}

export interface SyncResult {
  /** Every contact of the run, in order; empty when `keepContacts` is false. */
  contacts: Contact[];
  /** How many contacts the run received. */
  total: number;
  pages: number;
  /** The last page's checkpoint; null when it had none (the next run is then a full one). */
  checkpoint: string | null;
  /** Wall time of the whole run. */
  seconds: number;
}

/** One whole run, first page to last; throws as `requestPage` does on the first page that fails. */
export async function runSync(call: SyncCall, options: RunSyncOptions): Promise<SyncResult> {
  const keep = options.keepContacts ?? true;
  const started = performance.now();
  const contacts: Contact[] = [];
  let total = 0;
  let pages = 0;
  let offset: string | undefined;
  let context: unknown = null;

  for (;;) {
    const meta: PageRequest['meta'] = {};
    if (options.checkpoint !== undefined) meta.synchronization_checkpoint = options.checkpoint;
    if (offset !== undefined) {
      meta.offset = offset;
      meta.context = context;
    }
    const pageStarted = performance.now();
    const page = await requestPage(call, { auth: options.auth, meta }, pages + 1, options.pageSize);
    const seconds = (performance.now() - pageStarted) / 1000;
    pages++;
    total += page.contacts.length;
    if (keep) for (const c of page.contacts) contacts.push(c);
    const last = page.nextOffset === undefined;
    options.onPage?.({ page: pages, contacts: page.contacts, total, seconds, checkpoint: page.checkpoint, last });
    if (last) {
      return { contacts, total, pages, checkpoint: page.checkpoint, seconds: (performance.now() - started) / 1000 };
    }
    offset = page.nextOffset;
    context = page.context;
  }
}
