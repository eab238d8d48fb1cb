import { iso, parsePropertyInput, toFullContact, type ApiContact, type ContactVersion, type PropertyInput } from './contact.js';
import { objectNotFound, validationError } from './errors.js';
import type { Delay, FailNext, FaultBook, RateLimitNext } from './faults.js';
import type { OAuthBook } from './oauth.js';
import type { Portal, PortalRegistry } from './portals.js';
import type { RateLimits } from './rate-limit.js';
import type { SimStats, StatsRecorder } from './stats.js';
import type { WebhookDispatcher } from './webhooks.js';

/** Which portal a call is about; the first configured portal when absent. */
export interface PortalRef {
  portalId?: number;
}

/** A write's time; the sim's clock when absent. */
export interface At {
  at?: number;
}

export interface BulkEdit extends PortalRef, At {
  /** The contacts to edit; or `count` to edit the first that many live contacts by id. */
  ids?: (string | number)[];
  count?: number;
  /** Applied to every contact; none means an edit that changes nothing but lastmodifieddate. */
  properties?: PropertyInput;
}

export interface SimSettings {
  searchLagMs: number;
}

/**
 * Drives the simulator from a test or the demo: writes that happen "in HubSpot" while a sync
 * runs, faults to inject, and what the sim observed. Every method is also reachable over HTTP
 * under /__sim (see control-routes.ts), for clients in another process.
 */
export class SimControl {
  constructor(
    private readonly registry: PortalRegistry,
    private readonly faultBook: FaultBook,
    private readonly recorder: StatsRecorder,
    private readonly settings: SimSettings,
    private readonly clock: () => number,
    /** OAuth apps, installs and tokens (oauth.ts): add apps, shorten token life, uninstall, count refreshes. */
    readonly oauth: OAuthBook,
    /** Webhook targets, delivery faults and delivery stats (webhooks.ts). */
    readonly webhooks: WebhookDispatcher,
  ) {}

  get portalIds(): number[] {
    return this.registry.all().map((p) => p.id);
  }

  now(): number {
    return this.clock();
  }

  // --- contacts -------------------------------------------------------------------------------

  createContacts(contacts: readonly PropertyInput[], opts: PortalRef & At = {}): ApiContact[] {
    const { store } = this.portal(opts);
    const inputs = contacts.map((c) => parsePropertyInput(c));
    const at = opts.at ?? this.clock();
    return inputs.map((input) => toFullContact(store.create(input, at)));
  }

  /**
   * Adds `count` generated contacts. `historical` ones are backdated over the past three years and
   * already indexed (a portal's existing data); otherwise they are created now, as an import does,
   * all with one timestamp, and reach search after the lag.
   */
  generateContacts(count: number, opts: PortalRef & At & { historical?: boolean } = {}): { created: number; firstId?: string; lastId?: string } {
    if (!(Number.isInteger(count) && count >= 0)) throw validationError(`count must be a whole number; got ${count}`);
    const portal = this.portal(opts);
    const at = opts.at ?? this.clock();
    let made: ContactVersion[];
    if (opts.historical) {
      made = portal.store.seed(portal.generator.historical(count, at));
    } else {
      made = [];
      for (let i = 0; i < count; i++) made.push(portal.store.create(portal.generator.next(), at));
    }
    const first = made[0];
    const last = made[made.length - 1];
    return first && last ? { created: made.length, firstId: String(first.id), lastId: String(last.id) } : { created: 0 };
  }

  editContact(id: string | number, properties: PropertyInput, opts: PortalRef & At = {}): ApiContact {
    const { store } = this.portal(opts);
    return toFullContact(store.update(parseId(id), parsePropertyInput(properties), opts.at));
  }

  /** An edit that changes no value: HubSpot still moves lastmodifieddate, and a sync sees the contact again. */
  touchContact(id: string | number, opts: PortalRef & At = {}): ApiContact {
    return this.editContact(id, {}, opts);
  }

  archiveContacts(ids: readonly (string | number)[], opts: PortalRef & At = {}): ApiContact[] {
    const { store } = this.portal(opts);
    const at = opts.at ?? this.clock();
    return ids.map((id) => toFullContact(store.archive(parseId(id), at)));
  }

  /** HubSpot's restore of archived contacts: live again, with a new lastmodifieddate. */
  restoreContacts(ids: readonly (string | number)[], opts: PortalRef & At = {}): ApiContact[] {
    const { store } = this.portal(opts);
    const at = opts.at ?? this.clock();
    return ids.map((id) => toFullContact(store.restore(parseId(id), at)));
  }

  /**
   * Merges `loserId` into `survivorId` (HubSpot's "merge contacts"): returns the survivor, whose
   * hs_merged_object_ids now lists the loser. The loser's id is gone from every listing.
   */
  mergeContacts(loserId: string | number, survivorId: string | number, opts: PortalRef & At = {}): ApiContact {
    const { store } = this.portal(opts);
    return toFullContact(store.merge(parseId(loserId), parseId(survivorId), opts.at));
  }

  /** GDPR deletions: gone from the list, the archived list and search, with no trace a client can read. */
  privacyDeleteContacts(ids: readonly (string | number)[], opts: PortalRef & At = {}): { deleted: string[] } {
    const { store } = this.portal(opts);
    const at = opts.at ?? this.clock();
    return { deleted: ids.map((id) => String(store.privacyDelete(parseId(id), at).id)) };
  }

  /** Edits many contacts at one instant, as a HubSpot import or workflow does: they share lastmodifieddate. */
  bulkEdit(opts: BulkEdit): { updated: number; lastmodifieddate: string } {
    const { store } = this.portal(opts);
    const at = opts.at ?? this.clock();
    const input = parsePropertyInput(opts.properties ?? {});
    let ids: number[];
    if (opts.ids) ids = opts.ids.map(parseId);
    else if (opts.count !== undefined && Number.isInteger(opts.count) && opts.count >= 0) ids = store.firstLiveIds(opts.count);
    else throw validationError('bulkEdit needs ids or a count');
    for (const id of ids) store.update(id, input, at);
    return { updated: ids.length, lastmodifieddate: iso(at) };
  }

  getContact(id: string | number, opts: PortalRef = {}): ApiContact | undefined {
    const v = this.portal(opts).store.get(parseId(id));
    return v ? toFullContact(v) : undefined;
  }

  /** Every live contact with every property, by id: what a complete mirror should hold. */
  liveContacts(opts: PortalRef = {}): ApiContact[] {
    return this.portal(opts).store.liveContacts().map(toFullContact);
  }

  archivedContacts(opts: PortalRef = {}): ApiContact[] {
    return this.portal(opts).store.archivedContacts().map(toFullContact);
  }

  counts(opts: PortalRef = {}): { live: number; archived: number; searchable: number; searchBacklog: number } {
    const { store } = this.portal(opts);
    store.search.catchUp(this.clock());
    return { live: store.liveCount, archived: store.archivedCount, searchable: store.search.size, searchBacklog: store.search.backlog };
  }

  /**
   * Resolves once every write so far is visible to search, waiting in real time for the sim's
   * clock to pass the lag (with a frozen fake clock, advance the clock instead).
   */
  async searchSettled(opts: PortalRef = {}): Promise<void> {
    const { store } = this.portal(opts);
    for (;;) {
      const until = store.search.settlesAt;
      if (until === undefined) return;
      const wait = until - this.clock();
      if (wait <= 0) {
        store.search.catchUp(this.clock());
        if (store.search.backlog === 0) return;
      }
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(wait, 1000))));
    }
  }

  // --- tokens -----------------------------------------------------------------------------

  /** A token of the portal: with every scope, or only `scopes` (see PortalOptions.scopedTokens). */
  addToken(token: string, opts: PortalRef & { scopes?: string[] } = {}): void {
    this.registry.addToken(this.portal(opts).id, token, opts.scopes);
  }

  revokeToken(token: string): boolean {
    return this.registry.revokeToken(token);
  }

  tokens(opts: PortalRef = {}): string[] {
    return this.registry.tokensOf(this.portal(opts).id);
  }

  /** The scopes a token was granted; undefined when it has every scope. */
  tokenScopes(token: string): string[] | undefined {
    const scopes = this.registry.scopesOf(token);
    return scopes && [...scopes];
  }

  // --- faults -----------------------------------------------------------------------------

  failNext(fault: FailNext): void {
    this.faultBook.failNext(fault);
  }

  rateLimitNext(fault: RateLimitNext): void {
    this.faultBook.rateLimitNext(fault);
  }

  setDelay(delay: Delay): void {
    this.faultBook.setDelay(delay);
  }

  resetFaults(): void {
    this.faultBook.reset();
  }

  faults(): ReturnType<FaultBook['describe']> {
    return this.faultBook.describe();
  }

  // --- settings ---------------------------------------------------------------------------

  get searchLagMs(): number {
    return this.settings.searchLagMs;
  }

  /** Applies to writes from now on; writes already queued keep the lag they were given. */
  setSearchLag(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw validationError(`searchLagMs must be >= 0; got ${ms}`);
    this.settings.searchLagMs = ms;
  }

  /** Changes a portal's limits, or every portal's when no portalId is given. */
  setRateLimits(limits: Partial<RateLimits>, opts: PortalRef = {}): void {
    for (const [k, v] of Object.entries(limits)) {
      if (!(Number.isInteger(v) && v > 0)) throw validationError(`${k} must be a positive integer; got ${v}`);
    }
    const targets = opts.portalId === undefined ? this.registry.all() : [this.portal(opts)];
    for (const p of targets) p.limiter.limits = { ...p.limiter.limits, ...limits };
  }

  rateLimits(opts: PortalRef = {}): RateLimits {
    return { ...this.portal(opts).limiter.limits };
  }

  /** Forgets the requests counted so far, so the next test starts with a full allowance. */
  resetRateLimitWindows(): void {
    for (const p of this.registry.all()) p.limiter.reset();
  }

  // --- stats ------------------------------------------------------------------------------

  stats(): SimStats {
    return this.recorder.snapshot();
  }

  resetStats(): void {
    this.recorder.reset();
  }

  private portal(opts: PortalRef): Portal {
    if (opts.portalId === undefined) {
      const first = this.registry.all()[0];
      if (!first) throw new RangeError('the simulator has no portal');
      return first;
    }
    return this.registry.get(opts.portalId);
  }
}

function parseId(id: string | number): number {
  const n = typeof id === 'number' ? id : /^\d+$/.test(id) ? Number(id) : NaN;
  if (!Number.isSafeInteger(n)) throw objectNotFound(String(id));
  return n;
}
