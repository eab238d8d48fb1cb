import { ContactGenerator } from './generate.js';
import { PortalRateLimiter, type RateLimits } from './rate-limit.js';
import { ContactStore } from './store.js';

export interface PortalOptions {
  portalId: number;
  /** Private-app tokens that authenticate as this portal, with every scope. */
  tokens: string[];
  /**
   * Tokens of this portal granted only `scopes` (HubSpot's names, e.g. ['tickets'], or
   * ['crm.objects.contacts.write'] without read): a private app made for something else, another
   * app's OAuth token. They authenticate (account-info answers 200), but an endpoint that needs a
   * scope they lack answers 403 MISSING_SCOPES, as HubSpot does (see scopes.ts).
   */
  scopedTokens?: ScopedToken[];
  /** Contacts to seed, created over the past three years and visible to search at once. */
  contacts?: number;
  /** Seed of the generator and of the id gaps; defaults to the sim's seed plus the portal id. */
  seed?: number;
  rateLimits?: Partial<RateLimits>;
  /** The first contact id (101 by default); later ids grow by small random gaps. */
  firstId?: number;
}

export class Portal {
  readonly store: ContactStore;
  readonly limiter: PortalRateLimiter;
  readonly generator: ContactGenerator;

  constructor(
    readonly id: number,
    seed: number,
    limits: RateLimits,
    clock: () => number,
    searchLagMs: () => number,
    firstId?: number,
  ) {
    this.store = new ContactStore({ clock, searchLagMs, seed, ...(firstId === undefined ? {} : { firstId }) });
    this.limiter = new PortalRateLimiter(limits);
    this.generator = new ContactGenerator(seed);
  }

  /** HubSpot names the ten-secondly bucket after the app and the portal; one app per portal here. */
  get rateLimitGroup(): string {
    return `publicapi:private_app-api-calls-ten-secondly:${1_000_000 + this.id}:${this.id}`;
  }
}

export interface ScopedToken {
  token: string;
  scopes: string[];
}

/** Portals and the tokens that open them. A token belongs to one portal, as a private app's does. */
export class PortalRegistry {
  private readonly portals = new Map<number, Portal>();
  private readonly tokens = new Map<string, number>();
  /** The scopes of limited tokens; a token absent here has every scope. */
  private readonly scopes = new Map<string, ReadonlySet<string>>();

  add(portal: Portal, tokens: readonly string[], scopedTokens: readonly ScopedToken[] = []): void {
    if (this.portals.has(portal.id)) throw new Error(`portal ${portal.id} already exists`);
    this.portals.set(portal.id, portal);
    for (const t of tokens) this.addToken(portal.id, t);
    for (const s of scopedTokens) this.addToken(portal.id, s.token, s.scopes);
  }

  all(): Portal[] {
    return [...this.portals.values()];
  }

  get(id: number): Portal {
    const p = this.portals.get(id);
    if (!p) throw new RangeError(`no portal ${id}`);
    return p;
  }

  byToken(token: string): Portal | undefined {
    const id = this.tokens.get(token);
    return id === undefined ? undefined : this.portals.get(id);
  }

  tokensOf(id: number): string[] {
    return [...this.tokens].filter(([, p]) => p === id).map(([t]) => t);
  }

  /** The scopes a token was granted; undefined for a token with every scope (or none at all). */
  scopesOf(token: string): ReadonlySet<string> | undefined {
    return this.scopes.get(token);
  }

  /** Adds a token with every scope, or (re)grants it only `scopes`. */
  addToken(portalId: number, token: string, scopes?: readonly string[]): void {
    this.get(portalId);
    if (token.length === 0) throw new RangeError('token must not be empty');
    const owner = this.tokens.get(token);
    if (owner !== undefined && owner !== portalId) throw new RangeError(`token already belongs to portal ${owner}`);
    if (scopes !== undefined && !scopes.every((s) => typeof s === 'string' && s !== '')) throw new RangeError('scopes must be non-empty strings');
    this.tokens.set(token, portalId);
    if (scopes === undefined) this.scopes.delete(token);
    else this.scopes.set(token, new Set(scopes));
  }

  /** True if the token existed. Requests with it get 401 from now on. */
  revokeToken(token: string): boolean {
    this.scopes.delete(token);
    return this.tokens.delete(token);
  }
}
