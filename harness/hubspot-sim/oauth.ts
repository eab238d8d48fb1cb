import { randomBytes, randomUUID } from 'node:crypto';
import type { PortalRegistry } from './portals.js';

/**
 * HubSpot's OAuth 2.0 for apps, as a bridge that installs one sees it
 * (https://developers.hubspot.com/docs/api/oauth-quickstart-guide):
 *
 * - an app has an id, a client id and a client secret;
 * - the authorize page (`GET /oauth/authorize?client_id&redirect_uri&scope&state`) approves at
 *   once here, for the portal named by the sim's own `portal_id` parameter (the first portal
 *   otherwise), and redirects to `redirect_uri?code=…&state=…`;
 * - `POST /oauth/v1/token` exchanges the code (once, with the same redirect_uri and the client's
 *   secret) for an access token that expires after `accessTokenTtlSeconds` and a refresh token
 *   that does not; `grant_type=refresh_token` mints a new access token (the refresh token stays
 *   the same, and earlier access tokens keep working until they expire, as HubSpot's do);
 * - an uninstall revokes the refresh token and every access token of the install; deleting the
 *   refresh token (`DELETE /oauth/v1/refresh-tokens/:token`) revokes the refresh token only.
 *   A refused refresh is a 400 whose `error` is `invalid_grant`.
 *
 * Refreshes are counted per install, so a test can check that many processes refreshed once.
 */

export interface OAuthAppOptions {
  appId: number;
  clientId: string;
  clientSecret: string;
}

export interface OAuthSettings {
  /** Lifetime of an access token, in seconds (HubSpot's: 1800). Short ones make expiry testable. */
  accessTokenTtlSeconds: number;
}

/** HubSpot's token response (TokenResponseIF). */
export interface TokenResponse {
  token_type: 'bearer';
  refresh_token: string;
  access_token: string;
  expires_in: number;
}

/** What the token endpoint refuses with, as HubSpot's v1 body and OAuth's own `error` field both say it. */
export class OAuthError extends Error {
  constructor(
    readonly statusCode: number,
    /** HubSpot's v1 status word, e.g. BAD_REFRESH_TOKEN. */
    readonly status: string,
    /** RFC 6749's error code, e.g. invalid_grant. */
    readonly error: string,
    message: string,
  ) {
    super(message);
  }

  body(correlationId: string): Record<string, string> {
    return { status: this.status, message: this.message, error: this.error, error_description: this.message, correlationId };
  }
}

interface Install {
  app: OAuthAppOptions;
  portalId: number;
  scopes: string[];
  refreshToken: string;
  /** The refresh token no longer refreshes (deleted, or the app uninstalled). */
  refreshRevoked: boolean;
  /** The app was uninstalled: its access tokens stop working too. */
  uninstalled: boolean;
  refreshes: number;
  userId: number;
}

interface AccessToken {
  install: Install;
  expiresAt: number;
}

interface AuthCode {
  install: Omit<Install, 'refreshToken' | 'refreshRevoked' | 'uninstalled' | 'refreshes'>;
  redirectUri: string;
  expiresAt: number;
}

export type ResolvedToken = { kind: 'valid'; portalId: number; scopes: ReadonlySet<string> } | { kind: 'expired'; expiredMs: number };

export interface OAuthStats {
  authorizations: number;
  codeExchanges: number;
  refreshes: number;
  /** Refused token requests, by HubSpot's status word. */
  refused: Record<string, number>;
  /** Refreshes per refresh token's install, keyed `appId:portalId`. */
  refreshesByInstall: Record<string, number>;
}

const CODE_TTL_MS = 10 * 60_000;

export class OAuthBook {
  private readonly apps = new Map<string, OAuthAppOptions>();
  private readonly codes = new Map<string, AuthCode>();
  private readonly installs = new Map<string, Install>();
  private readonly accessTokens = new Map<string, AccessToken>();
  private counters: OAuthStats = emptyStats();
  private nextUserId = 7_000_001;

  constructor(
    private readonly registry: PortalRegistry,
    private readonly settings: OAuthSettings,
    private readonly clock: () => number,
  ) {}

  get accessTokenTtlSeconds(): number {
    return this.settings.accessTokenTtlSeconds;
  }

  setAccessTokenTtl(seconds: number): void {
    if (!(Number.isInteger(seconds) && seconds > 0)) throw new RangeError(`accessTokenTtlSeconds must be a positive integer; got ${seconds}`);
    this.settings.accessTokenTtlSeconds = seconds;
  }

  addApp(app: OAuthAppOptions): void {
    if ([...this.apps.values()].some((a) => a.appId === app.appId)) throw new RangeError(`app ${app.appId} already exists`);
    if (this.apps.has(app.clientId)) throw new RangeError(`client id ${app.clientId} already exists`);
    if (!app.clientSecret) throw new RangeError('clientSecret must not be empty');
    this.apps.set(app.clientId, { ...app });
  }

  appById(appId: number): OAuthAppOptions | undefined {
    return [...this.apps.values()].find((a) => a.appId === appId);
  }

  /**
   * The authorize page, approving at once: the URL to redirect the browser to. A request the page
   * would refuse to show (unknown client, no redirect_uri or scope) throws OAuthError (a 400 page).
   */
  authorize(query: { client_id?: string; redirect_uri?: string; scope?: string; optional_scope?: string; state?: string; portal_id?: string }): string {
    const app = query.client_id === undefined ? undefined : this.apps.get(query.client_id);
    if (!app) throw new OAuthError(400, 'BAD_CLIENT_ID', 'invalid_client', 'missing or unknown client id');
    if (!query.redirect_uri || !URL.canParse(query.redirect_uri)) throw new OAuthError(400, 'BAD_REDIRECT_URI', 'invalid_request', 'missing or invalid redirect_uri');
    const scopes = splitScopes(query.scope);
    if (scopes.length === 0) throw new OAuthError(400, 'BAD_SCOPE', 'invalid_scope', 'missing scope');
    const portalId = query.portal_id === undefined ? this.registry.all()[0]?.id : Number(query.portal_id);
    if (portalId === undefined || !this.registry.all().some((p) => p.id === portalId)) {
      throw new OAuthError(400, 'BAD_PORTAL', 'invalid_request', `no portal ${query.portal_id}`);
    }
    const code = randomUUID();
    this.codes.set(code, {
      install: { app, portalId, scopes: [...new Set([...scopes, ...splitScopes(query.optional_scope)])], userId: this.nextUserId++ },
      redirectUri: query.redirect_uri,
      expiresAt: this.clock() + CODE_TTL_MS,
    });
    this.counters.authorizations++;
    const target = new URL(query.redirect_uri);
    target.searchParams.set('code', code);
    if (query.state !== undefined) target.searchParams.set('state', query.state);
    return target.toString();
  }

  /** POST /oauth/v1/token, either grant. Throws OAuthError for whatever HubSpot refuses. */
  token(form: Record<string, string | undefined>): TokenResponse {
    try {
      return this.grant(form);
    } catch (err) {
      if (err instanceof OAuthError) this.counters.refused[err.status] = (this.counters.refused[err.status] ?? 0) + 1;
      throw err;
    }
  }

  /** What GET /oauth/v1/access-tokens/:token answers; undefined for a token unknown, revoked or expired. */
  accessTokenInfo(token: string): Record<string, unknown> | undefined {
    const found = this.accessTokens.get(token);
    const now = this.clock();
    if (!found || found.install.uninstalled || found.expiresAt <= now) return undefined;
    const { install } = found;
    return {
      token,
      user: `user${install.userId}@example.com`,
      hub_domain: `portal${install.portalId}.example.com`,
      scopes: install.scopes,
      scope_to_scope_group_pks: [],
      trial_scopes: [],
      trial_scope_to_scope_group_pks: [],
      hub_id: install.portalId,
      app_id: install.app.appId,
      expires_in: Math.floor((found.expiresAt - now) / 1000),
      user_id: install.userId,
      token_type: 'access',
    };
  }

  /** What GET /oauth/v1/refresh-tokens/:token answers; undefined for one unknown or revoked. */
  refreshTokenInfo(token: string): Record<string, unknown> | undefined {
    const install = this.installs.get(token);
    if (!install || install.refreshRevoked) return undefined;
    return {
      token,
      user: `user${install.userId}@example.com`,
      hub_domain: `portal${install.portalId}.example.com`,
      scopes: install.scopes,
      hub_id: install.portalId,
      client_id: install.app.clientId,
      user_id: install.userId,
      token_type: 'refresh',
    };
  }

  /** DELETE /oauth/v1/refresh-tokens/:token: it refreshes no more. False if it was unknown. */
  revokeRefreshToken(token: string): boolean {
    const install = this.installs.get(token);
    if (!install) return false;
    install.refreshRevoked = true;
    return true;
  }

  /** The customer uninstalls the app from a portal: every token of those installs stops working. */
  uninstall(appId: number, portalId: number): number {
    let n = 0;
    for (const install of this.installs.values()) {
      if (install.app.appId === appId && install.portalId === portalId && !install.uninstalled) {
        install.uninstalled = true;
        install.refreshRevoked = true;
        n++;
      }
    }
    return n;
  }

  /** The portals where an app is installed (some install not uninstalled): where its webhooks come from. */
  installedPortals(appId: number): number[] {
    const out = new Set<number>();
    for (const i of this.installs.values()) if (i.app.appId === appId && !i.uninstalled) out.add(i.portalId);
    return [...out];
  }

  /** An access token as the CRM gateway sees it; undefined for one this book never issued or that was revoked. */
  resolve(token: string): ResolvedToken | undefined {
    const found = this.accessTokens.get(token);
    if (!found || found.install.uninstalled) return undefined;
    const now = this.clock();
    if (found.expiresAt <= now) return { kind: 'expired', expiredMs: now - found.expiresAt };
    return { kind: 'valid', portalId: found.install.portalId, scopes: new Set(found.install.scopes) };
  }

  stats(): OAuthStats {
    const refreshesByInstall: Record<string, number> = {};
    for (const i of this.installs.values()) {
      const key = `${i.app.appId}:${i.portalId}`;
      refreshesByInstall[key] = (refreshesByInstall[key] ?? 0) + i.refreshes;
    }
    return { ...structuredClone(this.counters), refreshesByInstall };
  }

  resetStats(): void {
    this.counters = emptyStats();
    for (const i of this.installs.values()) i.refreshes = 0;
  }

  private grant(form: Record<string, string | undefined>): TokenResponse {
    const grantType = form.grant_type;
    if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
      throw new OAuthError(400, 'BAD_GRANT_TYPE', 'unsupported_grant_type', 'missing or unknown grant type');
    }
    const app = form.client_id === undefined ? undefined : this.apps.get(form.client_id);
    if (!app) throw new OAuthError(400, 'BAD_CLIENT_ID', 'invalid_client', 'missing or unknown client id');
    if (form.client_secret !== app.clientSecret) throw new OAuthError(400, 'BAD_CLIENT_SECRET', 'invalid_client', 'missing or invalid client secret');

    if (grantType === 'authorization_code') {
      const code = form.code === undefined ? undefined : this.codes.get(form.code);
      if (!code || code.install.app.clientId !== app.clientId || code.expiresAt <= this.clock()) {
        throw new OAuthError(400, 'BAD_AUTH_CODE', 'invalid_grant', 'missing or unknown auth code');
      }
      if (form.redirect_uri !== code.redirectUri) {
        throw new OAuthError(400, 'BAD_REDIRECT_URI', 'invalid_grant', 'redirect_uri does not match the one the code was issued for');
      }
      this.codes.delete(form.code!);
      const install: Install = { ...code.install, refreshToken: randomUUID(), refreshRevoked: false, uninstalled: false, refreshes: 0 };
      this.installs.set(install.refreshToken, install);
      this.counters.codeExchanges++;
      return this.issue(install);
    }

    const install = form.refresh_token === undefined ? undefined : this.installs.get(form.refresh_token);
    if (!install || install.refreshRevoked || install.app.clientId !== app.clientId) {
      throw new OAuthError(400, 'BAD_REFRESH_TOKEN', 'invalid_grant', 'missing or invalid refresh token');
    }
    install.refreshes++;
    this.counters.refreshes++;
    return this.issue(install);
  }

  private issue(install: Install): TokenResponse {
    // HubSpot's access tokens are opaque base64url text of a few hundred characters.
    const accessToken = `C${randomBytes(96).toString('base64url')}`;
    const ttl = this.settings.accessTokenTtlSeconds;
    this.accessTokens.set(accessToken, { install, expiresAt: this.clock() + ttl * 1000 });
    return { token_type: 'bearer', refresh_token: install.refreshToken, access_token: accessToken, expires_in: ttl };
  }
}

function splitScopes(v: string | undefined): string[] {
  return (v ?? '').split(/[\s+]+/).filter(Boolean);
}

function emptyStats(): OAuthStats {
  return { authorizations: 0, codeExchanges: 0, refreshes: 0, refused: {}, refreshesByInstall: {} };
}
