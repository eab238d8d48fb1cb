import type { Config } from '../config.js';
import { HubSpotOAuthClient, OAuthGrantRefusedError } from '../crm/hubspot/oauth-client.js';
import { ConnectionRefusedError, type TokenRefresher } from '../tenants/oauth-connections.js';

export const CONNECT_PATH = '/connect/hubspot';
export const CALLBACK_PATH = `${CONNECT_PATH}/callback`;

/** The bridge's HubSpot app (HUBSPOT_CLIENT_ID and its secret): customers connect their portals through it. */
export interface HubSpotApp {
  clientId: string;
  scopes: string;
  authorizeUrl: string;
  /** PUBLIC_URL + /connect/hubspot/callback: what the app's settings in HubSpot's developer portal must list. */
  redirectUri: string;
  /** Where a customer connects (again). */
  connectUrl: string;
  oauth: HubSpotOAuthClient;
  /** Refreshes a connection's tokens; a refused refresh says where to reconnect. */
  refresher: TokenRefresher;
}

/** The app, or undefined without HUBSPOT_CLIENT_ID (config.ts has made sure its secret and PUBLIC_URL are set). */
export function hubspotApp(
  config: Pick<Config, 'HUBSPOT_CLIENT_ID' | 'HUBSPOT_CLIENT_SECRET' | 'HUBSPOT_SCOPES' | 'HUBSPOT_AUTHORIZE_URL' | 'HUBSPOT_BASE_URL' | 'HUBSPOT_REQUEST_TIMEOUT_MS' | 'PUBLIC_URL'>,
): HubSpotApp | undefined {
  const { HUBSPOT_CLIENT_ID: clientId, HUBSPOT_CLIENT_SECRET: clientSecret, PUBLIC_URL: publicUrl } = config;
  if (clientId === undefined || clientSecret === undefined || publicUrl === undefined) return undefined;
  const base = publicUrl.replace(/\/$/, '');
  const connectUrl = `${base}${CONNECT_PATH}`;
  const oauth = new HubSpotOAuthClient({ baseUrl: config.HUBSPOT_BASE_URL, clientId, clientSecret, timeoutMs: config.HUBSPOT_REQUEST_TIMEOUT_MS });
  return {
    clientId,
    scopes: config.HUBSPOT_SCOPES,
    authorizeUrl: config.HUBSPOT_AUTHORIZE_URL,
    redirectUri: `${base}${CALLBACK_PATH}`,
    connectUrl,
    oauth,
    refresher: {
      async refresh(refreshToken) {
        try {
          return await oauth.refresh(refreshToken);
        } catch (err) {
          if (!(err instanceof OAuthGrantRefusedError)) throw err;
          throw new ConnectionRefusedError(
            `HubSpot refused the OAuth connection (the app was uninstalled or its access revoked): reconnect the portal at ${connectUrl}`,
          );
        }
      },
    },
  };
}
