import { createHash, createHmac } from 'node:crypto';
import { Prng } from './prng.js';
import { checkFaults, plannedSends, type DeliveryFaults } from '../webhook-faults.js';
import type { StoreEvent } from './store-events.js';

/**
 * HubSpot's webhooks (v3 signatures) for contact events
 * (https://developers.hubspot.com/docs/api/webhooks, .../validating-requests):
 *
 * - an app subscribes a target URL to event types (`contact.propertyChange` per property name);
 *   events come from the portals where the app is installed (or the portals a target names);
 * - events are POSTed as a JSON array of up to 100, signed with `X-HubSpot-Signature-v3`: base64
 *   of HMAC-SHA256, keyed by the app's client secret, of `POST` + the target URL + the raw body +
 *   `X-HubSpot-Request-Timestamp` (epoch ms at sending); the v1 signature (hex SHA-256 of secret
 *   + body) comes along as HubSpot's does;
 * - a delivery that fails (no answer within 5 s, a connection error, a 5xx) is retried, with
 *   `attemptNumber` counting up from 0, at most `maxAttempts` times; a 4xx is not retried;
 * - faults a test sets: batches dropped, duplicated, delayed, and events reordered (within a batch
 *   and across batches), by rate (from the sim's seed) or for the next N batches.
 */

export const SUBSCRIPTION_TYPES = [
  'contact.creation',
  'contact.propertyChange',
  'contact.restore',
  'contact.deletion',
  'contact.privacyDeletion',
  'contact.merge',
] as const;
export type SubscriptionType = (typeof SUBSCRIPTION_TYPES)[number];

export interface Subscription {
  subscriptionType: SubscriptionType;
  /** Which property's changes, for contact.propertyChange (HubSpot subscribes per property). */
  propertyName?: string;
}

export interface WebhookTargetOptions {
  appId: number;
  targetUrl: string;
  subscriptions: Subscription[];
  /** The portals whose events this target hears; by default those where the app is installed. */
  portalIds?: number[];
  /** Events per POST, at most 100 (HubSpot's). */
  maxBatchSize?: number;
  /** How long events gather before they are sent, ms (0: at the next turn of the event loop). */
  batchWindowMs?: number;
}

export type WebhookFaults = DeliveryFaults;

export interface WebhookSettings {
  /** Attempts per batch, the first included (HubSpot's: 10, over a day). */
  maxAttempts: number;
  /** Wait before a retry, ms (HubSpot's grow to hours; tests want them short). */
  retryDelayMs: number;
  /** How long a target may take to answer, ms (HubSpot's: 5 s). */
  timeoutMs: number;
}

/** One event as HubSpot sends it. */
export interface WebhookEvent {
  eventId: number;
  subscriptionId: number;
  portalId: number;
  appId: number;
  occurredAt: number;
  subscriptionType: SubscriptionType;
  attemptNumber: number;
  objectId: number;
  changeSource: string;
  propertyName?: string;
  propertyValue?: string;
  changeFlag?: string;
  primaryObjectId?: number;
  mergedObjectIds?: number[];
  newObjectId?: number;
  numberOfPropertiesMoved?: number;
}

export interface WebhookStats {
  /** POSTs made, retries and duplicates included. */
  requests: number;
  /** Batches answered 2xx (a duplicate counts once per answer). */
  delivered: number;
  /** Events in batches answered 2xx. */
  eventsDelivered: number;
  /** Attempts that failed (no answer, or not 2xx). */
  failedAttempts: number;
  /** Batches given up on after their last attempt (or refused with a 4xx). */
  abandoned: number;
  dropped: number;
  duplicated: number;
  /** Events generated for a target, before any fault. */
  eventsQueued: number;
}

interface Target extends Required<Omit<WebhookTargetOptions, 'portalIds'>> {
  id: number;
  portalIds?: number[];
  subscriptionIds: number[];
  pending: WebhookEvent[];
  timer?: NodeJS.Timeout;
}

export interface WebhookDeps {
  /** The client secret that signs an app's deliveries. */
  secretOf(appId: number): string | undefined;
  /** The portals where an app is installed. */
  installedPortals(appId: number): number[];
  clock: () => number;
  seed: number;
}

export class WebhookDispatcher {
  private readonly targets = new Map<number, Target>();
  private faults: WebhookFaults = {};
  private counters: WebhookStats = emptyStats();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly rng: Prng;
  private nextTargetId = 1;
  private nextSubscriptionId = 1_000;
  private nextEventId = 100_000;
  private closed = false;

  constructor(
    private readonly deps: WebhookDeps,
    readonly settings: WebhookSettings,
  ) {
    this.rng = new Prng(deps.seed ^ 0x3eb400c5);
  }

  /** Subscribes a target; returns its id (for removal). */
  addTarget(options: WebhookTargetOptions): { targetId: number; subscriptionIds: number[] } {
    if (this.deps.secretOf(options.appId) === undefined) throw new RangeError(`no app ${options.appId}: create it first (oauth apps)`);
    if (!URL.canParse(options.targetUrl)) throw new RangeError(`targetUrl is not a URL: ${options.targetUrl}`);
    if (options.subscriptions.length === 0) throw new RangeError('subscriptions must not be empty');
    for (const s of options.subscriptions) {
      if (!(SUBSCRIPTION_TYPES as readonly string[]).includes(s.subscriptionType)) throw new RangeError(`unknown subscriptionType ${s.subscriptionType}`);
      if (s.subscriptionType === 'contact.propertyChange' && !s.propertyName) throw new RangeError('contact.propertyChange needs a propertyName');
    }
    const maxBatchSize = options.maxBatchSize ?? 100;
    if (!(Number.isInteger(maxBatchSize) && maxBatchSize >= 1 && maxBatchSize <= 100)) throw new RangeError('maxBatchSize must be 1..100');
    const target: Target = {
      id: this.nextTargetId++,
      appId: options.appId,
      targetUrl: options.targetUrl,
      subscriptions: options.subscriptions.map((s) => ({ ...s })),
      maxBatchSize,
      batchWindowMs: options.batchWindowMs ?? 0,
      subscriptionIds: options.subscriptions.map(() => this.nextSubscriptionId++),
      pending: [],
      ...(options.portalIds ? { portalIds: [...options.portalIds] } : {}),
    };
    this.targets.set(target.id, target);
    return { targetId: target.id, subscriptionIds: [...target.subscriptionIds] };
  }

  removeTarget(targetId: number): boolean {
    const t = this.targets.get(targetId);
    if (t?.timer) clearTimeout(t.timer);
    return this.targets.delete(targetId);
  }

  listTargets(): Array<WebhookTargetOptions & { targetId: number; subscriptionIds: number[] }> {
    return [...this.targets.values()].map((t) => ({
      targetId: t.id,
      appId: t.appId,
      targetUrl: t.targetUrl,
      subscriptions: t.subscriptions,
      subscriptionIds: t.subscriptionIds,
      maxBatchSize: t.maxBatchSize,
      batchWindowMs: t.batchWindowMs,
      ...(t.portalIds ? { portalIds: t.portalIds } : {}),
    }));
  }

  setFaults(faults: WebhookFaults): void {
    checkFaults(faults, (message) => new RangeError(message));
    this.faults = { ...faults };
  }

  currentFaults(): WebhookFaults {
    return { ...this.faults };
  }

  stats(): WebhookStats {
    return { ...this.counters };
  }

  resetStats(): void {
    this.counters = emptyStats();
  }

  /** A store's event in a portal: queued for every target that hears it. */
  onEvent(portalId: number, event: StoreEvent): void {
    if (this.closed) return;
    for (const target of this.targets.values()) {
      const portals = target.portalIds ?? this.deps.installedPortals(target.appId);
      if (!portals.includes(portalId)) continue;
      target.subscriptions.forEach((s, i) => {
        if (!matches(s, event)) return;
        target.pending.push(this.toWebhookEvent(event, portalId, target, target.subscriptionIds[i]!));
        this.counters.eventsQueued++;
      });
      if (target.pending.length > 0 && !target.timer) {
        target.timer = setTimeout(() => this.flush(target), target.batchWindowMs);
      }
    }
  }

  /** Resolves once nothing is queued, waiting or being sent (retries included). */
  async settled(): Promise<void> {
    for (;;) {
      const pendingTargets = [...this.targets.values()].some((t) => t.pending.length > 0 || t.timer);
      if (!pendingTargets && this.inFlight.size === 0 && this.timers.size === 0) return;
      if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.targets.values()) if (t.timer) clearTimeout(t.timer);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private toWebhookEvent(event: StoreEvent, portalId: number, target: Target, subscriptionId: number): WebhookEvent {
    const base: WebhookEvent = {
      eventId: this.nextEventId++,
      subscriptionId,
      portalId,
      appId: target.appId,
      occurredAt: event.at,
      subscriptionType: `contact.${event.type}`,
      attemptNumber: 0,
      objectId: event.id,
      changeSource: 'CRM_UI',
    };
    switch (event.type) {
      case 'propertyChange':
        return { ...base, propertyName: event.propertyName, propertyValue: event.propertyValue };
      case 'merge':
        return {
          ...base,
          primaryObjectId: event.primaryObjectId,
          mergedObjectIds: [...event.mergedObjectIds],
          newObjectId: event.newObjectId,
          numberOfPropertiesMoved: 0,
        };
      default:
        return { ...base, changeFlag: CHANGE_FLAGS[event.type] };
    }
  }

  private flush(target: Target): void {
    target.timer = undefined;
    if (this.closed || !this.targets.has(target.id)) return;
    const events = target.pending.splice(0);
    for (let i = 0; i < events.length; i += target.maxBatchSize) this.dispatch(target, events.slice(i, i + target.maxBatchSize));
  }

  private dispatch(target: Target, batch: WebhookEvent[]): void {
    for (const wait of plannedSends(this.faults, this.rng, this.counters)) {
      const events = this.faults.reorder ? shuffled(this.rng, batch) : batch;
      this.later(wait, () => this.attempt(target, events, 0));
    }
  }


  private later(ms: number, run: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private attempt(target: Target, events: WebhookEvent[], attemptNumber: number): void {
    if (this.closed) return;
    const sending = this.send(target, events.map((e) => ({ ...e, attemptNumber }))).then((outcome) => {
      if (outcome === 'delivered') return;
      if (outcome === 'retry' && attemptNumber + 1 < this.settings.maxAttempts) {
        this.later(this.settings.retryDelayMs, () => this.attempt(target, events, attemptNumber + 1));
      } else {
        this.counters.abandoned++;
      }
    });
    this.inFlight.add(sending);
    void sending.finally(() => this.inFlight.delete(sending));
  }

  private async send(target: Target, events: WebhookEvent[]): Promise<'delivered' | 'retry' | 'refused'> {
    const secret = this.deps.secretOf(target.appId) ?? '';
    const body = JSON.stringify(events);
    const timestamp = String(Date.now());
    this.counters.requests++;
    try {
      const res = await fetch(target.targetUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'HubSpot Connect 2.0 (http://dev.hubspot.com/) - WebhooksExecutorDaemon-executor',
          ...signatureHeaders(secret, 'POST', target.targetUrl, body, timestamp),
        },
        body,
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        this.counters.delivered++;
        this.counters.eventsDelivered += events.length;
        return 'delivered';
      }
      this.counters.failedAttempts++;
      return res.status >= 500 || res.status === 429 ? 'retry' : 'refused';
    } catch {
      this.counters.failedAttempts++;
      return 'retry';
    }
  }
}

/** The headers HubSpot signs a delivery with: v3 (what a receiver should check) and v1. */
export function signatureHeaders(secret: string, method: string, uri: string, body: string, timestamp: string): Record<string, string> {
  return {
    'x-hubspot-signature-v3': createHmac('sha256', secret).update(`${method}${uri}${body}${timestamp}`).digest('base64'),
    'x-hubspot-request-timestamp': timestamp,
    'x-hubspot-signature': createHash('sha256').update(`${secret}${body}`).digest('hex'),
    'x-hubspot-signature-version': 'v1',
  };
}

const CHANGE_FLAGS = { creation: 'CREATED', deletion: 'DELETED', restore: 'RESTORED', privacyDeletion: 'GDPR_DELETED' } as const;

function matches(s: Subscription, e: StoreEvent): boolean {
  if (s.subscriptionType !== `contact.${e.type}`) return false;
  return e.type !== 'propertyChange' || s.propertyName === e.propertyName;
}

function shuffled<T>(rng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function emptyStats(): WebhookStats {
  return { requests: 0, delivered: 0, eventsDelivered: 0, failedAttempts: 0, abandoned: 0, dropped: 0, duplicated: 0, eventsQueued: 0 };
}
