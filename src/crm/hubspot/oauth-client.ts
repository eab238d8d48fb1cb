import { Client } from '@hubspot/api-client';
import { CrmRateLimitedError, CrmUnavailableError } from '../errors.js';
import { parseRetryAfter } from '../retry-after.js';
import { isHubSpotToken } from './auth.js';
import { timeoutAgent, WITH_CONFIGURED_MIDDLEWARE } from './client.js';

/**
 * HubSpot's OAuth token calls for the bridge's app, through the official client's `oauth` APIs
 * (https://developers.hubspot.com/docs/api/oauth/tokens): the code exchange, the refresh and the
 * access-token introspection that names the portal. They go to HUBSPOT_BASE_URL, like every API call.
 */

export interface HubSpotAppCredentials {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  timeoutMs: number;
}

export interface OAuthTokens {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives from now. */
  expiresIn: number;
}

/**
 * HubSpot refused the grant (400 `invalid_grant`): the code was used or expired, or the refresh
 * token was revoked or the app uninstalled. Retrying cannot help; the customer must connect again.
 */
export class OAuthGrantRefusedError extends Error {
  override name = 'OAuthGrantRefusedError';
}

/** HubSpot refused the app itself (400 `invalid_client`, …): a configuration fault of this bridge. */
export class OAuthAppRefusedError extends Error {
  override name = 'OAuthAppRefusedError';
}

export class HubSpotOAuthClient {
  private readonly client: Client;

  constructor(private readonly app: HubSpotAppCredentials) {
    this.client = new Client({
      basePath: app.baseUrl.replace(/\/$/, ''),
      numberOfApiCallRetries: 0,
      httpAgent: timeoutAgent(app.baseUrl, app.timeoutMs),
    });
  }

  /** POST /oauth/v1/token, grant_type=authorization_code. */
  exchangeCode(code: string, redirectUri: string): Promise<OAuthTokens> {
    return this.token(() =>
      this.client.oauth.tokensApi.create('authorization_code', code, redirectUri, this.app.clientId, this.app.clientSecret, undefined, WITH_CONFIGURED_MIDDLEWARE),
    );
  }

  /** POST /oauth/v1/token, grant_type=refresh_token. HubSpot may answer a new refresh token. */
  refresh(refreshToken: string): Promise<OAuthTokens> {
    return this.token(() =>
      this.client.oauth.tokensApi.create('refresh_token', undefined, undefined, this.app.clientId, this.app.clientSecret, refreshToken, WITH_CONFIGURED_MIDDLEWARE),
    );
  }

  /** GET /oauth/v1/access-tokens/<token> → the portal (hub_id) the token was issued for. */
  async portalOf(accessToken: string): Promise<string> {
    try {
      const info = await this.client.oauth.accessTokensApi.get(accessToken, WITH_CONFIGURED_MIDDLEWARE);
      if (typeof info.hubId !== 'number' && typeof info.hubId !== 'string') throw new CrmUnavailableError('HubSpot token info carries no hub_id');
      return String(info.hubId);
    } catch (err) {
      throw translate(err, 'token info');
    }
  }

  private async token(send: () => Promise<{ accessToken?: unknown; refreshToken?: unknown; expiresIn?: unknown }>): Promise<OAuthTokens> {
    let answer: Awaited<ReturnType<typeof send>>;
    try {
      answer = await send();
    } catch (err) {
      throw translate(err, 'token');
    }
    const { accessToken, refreshToken, expiresIn } = answer;
    if (!isHubSpotToken(accessToken) || typeof refreshToken !== 'string' || refreshToken === '' || typeof expiresIn !== 'number') {
      throw new CrmUnavailableError('HubSpot answered the token request without a usable token');
    }
    return { accessToken, refreshToken, expiresIn };
  }
}

/** The official client's ApiException (code, body) as what the callers act on; never the tokens it carried. */
function translate(err: unknown, what: string): Error {
  if (err instanceof CrmUnavailableError) return err;
  const { code, body, headers } = (err ?? {}) as { code?: unknown; body?: unknown; headers?: Record<string, string> };
  if (typeof code !== 'number') return new CrmUnavailableError(`HubSpot ${what} endpoint unreachable`);
  if (code === 429) {
    const waitMs = parseRetryAfter(headers?.['retry-after'], new Date()) ?? 10_000;
    return new CrmRateLimitedError(waitMs, `HubSpot ${what} endpoint rate limit; retry in ${waitMs} ms`);
  }
  if (code >= 500) return new CrmUnavailableError(`HubSpot ${what} endpoint answered ${code}`, code);
  const error = (body as { error?: unknown } | undefined)?.error;
  const status = (body as { status?: unknown } | undefined)?.status;
  const words = [error, status].filter((w): w is string => typeof w === 'string' && /^[A-Za-z_]{1,40}$/.test(w)).join(' ');
  if (error === 'invalid_grant') return new OAuthGrantRefusedError(`HubSpot refused the grant (${code} ${words})`);
  return new OAuthAppRefusedError(`HubSpot ${what} endpoint answered ${code}${words ? ` ${words}` : ''}`);
}
