import { randomUUID } from 'node:crypto';
import { Prng } from '../hubspot-sim/prng.js';
import { checkFaults, plannedSends, type DeliveryFaults } from '../webhook-faults.js';
import { personJson, type Company, type PersonEvent, type SimPerson, type SimUser } from './company.js';
import { badRequest, notFound } from './errors.js';
import { iso } from './listing.js';

/**
 * Pipedrive's general webhooks, version 2.0 (https://pipedrive.readme.io/docs/guide-for-webhooks-v2),
 * for person events:
 *
 * - `POST /v1/webhooks` subscribes a URL to `event_action` (create, change, delete, *) of
 *   `event_object` (person, *) with optional HTTP basic auth; at most 40 webhooks per user; the
 *   webhook's user's visibility decides which events it hears (an admin's hears every one);
 * - one POST per event, `{ data, previous, meta }`: `meta.action`, `meta.entity`, `meta.entity_id`
 *   (a string), `meta.timestamp`, `meta.attempt`…; a change's `previous` holds the changed fields'
 *   old values; a delete has `data: null` and the whole person in `previous`; a merge is the
 *   survivor's change and the loser's delete whose `meta.merged_to_id` names the survivor;
 * - a delivery that fails (no answer in time, a connection error, a non-2xx) is retried, `attempt`
 *   counting up from 1, at most `maxAttempts` times;
 * - faults a test sets: deliveries dropped, duplicated, delayed, reordered (by rate from the sim's
 *   seed, or for the next N events).
 */

export const EVENT_ACTIONS = ['create', 'change', 'delete', '*'] as const;
export const EVENT_OBJECTS = ['activity', 'deal', 'lead', 'note', 'organization', 'person', 'pipeline', 'product', 'stage', 'user', '*'] as const;
/** Pipedrive's limit of webhooks per user. */
export const MAX_WEBHOOKS_PER_USER = 40;

export interface SimWebhook {
  id: number;
  company_id: number;
  owner_id: number;
  user_id: number;
  event_action: string;
  event_object: string;
  subscription_url: string;
  version: string;
  is_active: 0 | 1;
  add_time: string;
  remove_time: string | null;
  type: 'general';
  http_auth_user: string | null;
  http_auth_password: string | null;
  remove_reason: string | null;
  last_delivery_time: string | null;
  last_http_status: number | null;
  admin_id: number;
  name: string;
}

export type PipedriveWebhookFaults = DeliveryFaults;

export interface PipedriveWebhookSettings {
  /** Attempts per event, the first included. */
  maxAttempts: number;
  /** Wait before a retry, ms (Pipedrive's are seconds to minutes; tests want them short). */
  retryDelayMs: number;
  /** How long a receiver may take to answer, ms. */
  timeoutMs: number;
}

export interface PipedriveWebhookStats {
  /** POSTs made, retries and duplicates included. */
  requests: number;
  /** Events answered 2xx (a duplicate counts once per answer). */
  delivered: number;
  failedAttempts: number;
  /** Events given up on after their last attempt. */
  abandoned: number;
  dropped: number;
  duplicated: number;
  /** Events generated for a webhook, before any fault. */
  queued: number;
}

/** One event's body, as Pipedrive POSTs it (v2). */
export interface PipedriveWebhookBody {
  data: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
  meta: {
    action: 'create' | 'change' | 'delete';
    entity: 'person';
    entity_id: string;
    company_id: string;
    user_id: string;
    webhook_id: string;
    webhook_owner_id: string;
    id: string;
    correlation_id: string;
    timestamp: string;
    version: '2.0';
    type: 'general';
    host: string;
    is_bulk_edit: boolean;
    change_source: 'app' | 'api';
    permitted_user_ids: string[];
    attempt: number;
    merged_to_id?: string;
  };
}

export class PipedriveWebhooks {
  private readonly hooks = new Map<number, SimWebhook>();
  private faults: PipedriveWebhookFaults = {};
  private counters = emptyStats();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rng: Prng;
  private nextId = 500_001;
  private closed = false;

  constructor(
    private readonly companies: Map<number, Company>,
    private readonly clock: () => number,
    seed: number,
    readonly settings: PipedriveWebhookSettings,
  ) {
    this.rng = new Prng(seed ^ 0x5eb400d7);
  }

  /** Starts hearing a company's events (once per company). */
  attach(company: Company): void {
    company.listen((event) => this.onEvent(company, event));
  }

  list(company: Company): SimWebhook[] {
    return [...this.hooks.values()].filter((h) => h.company_id === company.id).map((h) => ({ ...h }));
  }

  /** Every webhook of every company, for tests. */
  all(): SimWebhook[] {
    return [...this.hooks.values()].map((h) => ({ ...h }));
  }

  /** POST /v1/webhooks, validated as Pipedrive does (a 400 names the field). */
  add(company: Company, user: SimUser, body: Record<string, unknown>): SimWebhook {
    const url = body.subscription_url;
    if (typeof url !== 'string' || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw badRequest('Validation failed: subscription_url: must be a full, valid, publicly accessible URL');
    }
    const action = body.event_action;
    if (typeof action !== 'string' || !(EVENT_ACTIONS as readonly string[]).includes(action)) {
      throw badRequest(`Validation failed: event_action: must be one of ${EVENT_ACTIONS.join(', ')}`);
    }
    const object = body.event_object;
    if (typeof object !== 'string' || !(EVENT_OBJECTS as readonly string[]).includes(object)) {
      throw badRequest(`Validation failed: event_object: must be one of ${EVENT_OBJECTS.join(', ')}`);
    }
    const version = body.version ?? '1.0';
    if (version !== '1.0' && version !== '2.0') throw badRequest('Validation failed: version: must be one of 1.0, 2.0');
    // v1's payloads are not simulated: a caller asking for them would test nothing real.
    if (version !== '2.0') throw badRequest('the simulator delivers webhooks version 2.0 only');
    for (const k of ['http_auth_user', 'http_auth_password', 'name'] as const) {
      if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') throw badRequest(`Validation failed: ${k}: must be a string`);
    }
    const userId = body.user_id === undefined ? user.id : Number(body.user_id);
    const owner = company.users.get(userId);
    if (!owner) throw badRequest('Validation failed: user_id: no such user');
    if (userId !== user.id && !user.is_admin) throw badRequest('Only admins can create webhooks for other users');
    if ([...this.hooks.values()].filter((h) => h.company_id === company.id && h.user_id === userId).length >= MAX_WEBHOOKS_PER_USER) {
      throw badRequest(`The maximum number of webhooks (${MAX_WEBHOOKS_PER_USER}) per user has been reached`);
    }
    const hook: SimWebhook = {
      id: this.nextId++,
      company_id: company.id,
      owner_id: user.id,
      user_id: userId,
      event_action: action,
      event_object: object,
      subscription_url: url,
      version,
      is_active: 1,
      add_time: iso(Math.floor(this.clock() / 1000)),
      remove_time: null,
      type: 'general',
      http_auth_user: (body.http_auth_user as string | null | undefined) ?? null,
      http_auth_password: (body.http_auth_password as string | null | undefined) ?? null,
      remove_reason: null,
      last_delivery_time: null,
      last_http_status: null,
      admin_id: user.id,
      name: typeof body.name === 'string' ? body.name : `Webhook ${this.nextId - 1}`,
    };
    this.hooks.set(hook.id, hook);
    return { ...hook };
  }

  /** DELETE /v1/webhooks/:id: a company's own webhook only (another's is not found). */
  remove(company: Company, id: number): void {
    const hook = this.hooks.get(id);
    if (!hook || hook.company_id !== company.id) throw notFound('Webhook not found');
    this.hooks.delete(id);
  }

  setFaults(faults: PipedriveWebhookFaults): void {
    checkFaults(faults, badRequest);
    this.faults = { ...faults };
  }

  currentFaults(): PipedriveWebhookFaults {
    return { ...this.faults };
  }

  stats(): PipedriveWebhookStats {
    return { ...this.counters };
  }

  resetStats(): void {
    this.counters = emptyStats();
  }

  /** Resolves once nothing is waiting or being sent (retries included). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0 || this.timers.size > 0) {
      if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private onEvent(company: Company, event: PersonEvent): void {
    if (this.closed) return;
    for (const hook of this.hooks.values()) {
      if (hook.company_id !== company.id || hook.is_active !== 1) continue;
      if (hook.event_object !== 'person' && hook.event_object !== '*') continue;
      if (hook.event_action !== '*' && hook.event_action !== event.action) continue;
      const user = company.users.get(hook.user_id);
      // Events about a person the webhook's user may not see are not sent.
      if (!user || !company.canSee(user, event.person)) continue;
      this.counters.queued++;
      this.dispatch(hook, this.body(company, hook, event));
    }
  }

  private body(company: Company, hook: SimWebhook, event: PersonEvent): PipedriveWebhookBody {
    const id = randomUUID();
    return {
      data: event.action === 'delete' ? null : personJson(event.person),
      previous: event.action === 'create' ? null : event.action === 'delete' ? personJson(event.person) : changedFields(event.previous!, event.person),
      meta: {
        action: event.action,
        entity: 'person',
        entity_id: String(event.person.id),
        company_id: String(company.id),
        user_id: String(event.person.owner_id),
        webhook_id: String(hook.id),
        webhook_owner_id: String(hook.owner_id),
        id,
        correlation_id: id,
        timestamp: new Date(event.at * 1000).toISOString(),
        version: '2.0',
        type: 'general',
        host: `${company.domain}.pipedrive.com`,
        is_bulk_edit: false,
        change_source: 'app',
        permitted_user_ids: [...company.users.values()].filter((u) => company.canSee(u, event.person)).map((u) => String(u.id)),
        attempt: 1,
        ...(event.mergedToId === undefined ? {} : { merged_to_id: String(event.mergedToId) }),
      },
    };
  }

  private dispatch(hook: SimWebhook, body: PipedriveWebhookBody): void {
    for (const wait of plannedSends(this.faults, this.rng, this.counters)) this.later(wait, () => this.attempt(hook, body, 1));
  }


  private later(ms: number, run: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private attempt(hook: SimWebhook, body: PipedriveWebhookBody, attempt: number): void {
    if (this.closed || !this.hooks.has(hook.id)) return;
    const sending = this.send(hook, { ...body, meta: { ...body.meta, attempt } }).then((ok) => {
      if (ok) return;
      if (attempt < this.settings.maxAttempts) this.later(this.settings.retryDelayMs, () => this.attempt(hook, body, attempt + 1));
      else this.counters.abandoned++;
    });
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  private async send(hook: SimWebhook, body: PipedriveWebhookBody): Promise<boolean> {
    this.counters.requests++;
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Pipedrive Webhooks' };
    if (hook.http_auth_user !== null || hook.http_auth_password !== null) {
      headers.authorization = `Basic ${Buffer.from(`${hook.http_auth_user ?? ''}:${hook.http_auth_password ?? ''}`).toString('base64')}`;
    }
    let status: number;
    try {
      const res = await fetch(hook.subscription_url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.settings.timeoutMs) });
      await res.arrayBuffer().catch(() => undefined);
      status = res.status;
    } catch {
      status = 0; // no answer
    }
    const live = this.hooks.get(hook.id);
    if (live) {
      live.last_delivery_time = iso(Math.floor(this.clock() / 1000));
      live.last_http_status = status === 0 ? null : status;
    }
    if (status >= 200 && status < 300) {
      this.counters.delivered++;
      return true;
    }
    this.counters.failedAttempts++;
    return false;
  }
}

/** A change's `previous`: the old values of the fields that changed. */
function changedFields(before: SimPerson, after: SimPerson): Record<string, unknown> {
  const old = personJson(before) as Record<string, unknown>;
  const now = personJson(after) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(old)) if (JSON.stringify(old[k]) !== JSON.stringify(now[k])) out[k] = old[k];
  return out;
}

function emptyStats(): PipedriveWebhookStats {
  return { requests: 0, delivered: 0, failedAttempts: 0, abandoned: 0, dropped: 0, duplicated: 0, queued: 0 };
}
