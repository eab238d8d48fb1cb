import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { CONTACTS_READ } from '../crm/connector.js';
import { CrmRateLimitedError, CrmUnavailableError } from '../crm/errors.js';
import { OAuthGrantRefusedError } from '../crm/hubspot/oauth-client.js';
import type { Onboarding } from '../tenants/onboarding.js';
import { CONNECTION_MARKER, newConnectionKey } from '../tenants/connection-keys.js';
import { connectionRestored, credentialsVerified, isAccountRefused, tenantOfAccount } from '../tenants/lifecycle.js';
import { saveConnection } from '../tenants/oauth-connections.js';
import { CALLBACK_PATH, CONNECT_PATH, type HubSpotApp } from './hubspot-app.js';
import { checkState, consumeState, cookieValue, issueState, STATE_COOKIE, STATE_TTL_MS } from './oauth-state.js';
import { connectedPage, failedPage } from './pages.js';

export interface ConnectRoutesOptions {
  app: HubSpotApp;
  /** ONBOARDING, as for credentials Talkdesk sends. */
  mode: NonNullable<ConstructorParameters<typeof Onboarding>[0]['mode']>;
}

// Query values HubSpot sends are a code (a UUID) and our own state; anything far longer is not theirs.
const MAX_QUERY_VALUE = 2048;

/**
 * Connecting a HubSpot portal through the bridge's app (OAuth 2.0 authorization code grant):
 * `GET /connect/hubspot` sends the browser to HubSpot's authorize page with a signed state bound
 * to it (oauth-state.ts); `GET /connect/hubspot/callback` checks the state, exchanges the code,
 * names the portal, stores the tokens on its tenant (made or found) and shows the connection key
 * Talkdesk is to send. Registered only when HUBSPOT_CLIENT_ID is set (otherwise both are 404).
 */
const hubspotConnectRoutes: FastifyPluginAsyncTypebox<ConnectRoutesOptions> = async (fastify, { app, mode }) => {
  const { db, ingest } = fastify;
  const { keys } = fastify.tenants;
  const secureCookie = /^https:/i.test(fastify.config.PUBLIC_URL ?? '');
  const cookie = (value: string, maxAgeSeconds: number) =>
    `${STATE_COOKIE}=${value}; Path=${CONNECT_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secureCookie ? '; Secure' : ''}`;

  const html = (reply: FastifyReply, status: number, body: string) =>
    reply.code(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(body);
  const refuse = (reply: FastifyReply, status: number, title: string, reason: string) =>
    html(reply.header('set-cookie', cookie('', 0)), status, failedPage({ title, reason, connectUrl: CONNECT_PATH }));

  fastify.get(CONNECT_PATH, { schema: { hide: true } }, async (_request, reply) => {
    const { state, nonce } = issueState(keys, Date.now());
    const target = new URL(app.authorizeUrl);
    target.searchParams.set('client_id', app.clientId);
    target.searchParams.set('redirect_uri', app.redirectUri);
    target.searchParams.set('scope', app.scopes);
    target.searchParams.set('state', state);
    return reply
      .header('set-cookie', cookie(nonce, STATE_TTL_MS / 1000))
      .header('cache-control', 'no-store')
      .redirect(target.toString(), 302);
  });

  fastify.get(
    CALLBACK_PATH,
    {
      // Checked by hand, so that every refusal is the page a browser shows, not a JSON error.
      attachValidation: true,
      schema: {
        hide: true,
        querystring: Type.Object({ code: Type.Optional(Type.String()), state: Type.Optional(Type.String()), error: Type.Optional(Type.String()) }),
      },
    },
    async (request, reply) => {
      const query = request.validationError ? {} : request.query;
      if (Object.values(query).some((v) => typeof v === 'string' && v.length > MAX_QUERY_VALUE)) {
        return refuse(reply, 400, 'Connection refused', 'The link HubSpot sent back is not one this bridge made.');
      }
      if (query.error !== undefined) {
        return refuse(reply, 400, 'Connection not approved', 'HubSpot did not approve the connection.');
      }
      const checked = checkState(keys, query.state, cookieValue(request.headers.cookie, STATE_COOKIE), Date.now());
      if (!checked.ok) return refuse(reply, 400, 'Connection refused', `This connection link cannot be used: ${checked.reason}.`);
      if (query.code === undefined || query.code === '') return refuse(reply, 400, 'Connection refused', 'HubSpot sent back no authorization code.');
      if (!(await consumeState(db, checked.nonce, checked.expiresAtMs))) {
        return refuse(reply, 400, 'Connection refused', 'This connection link was already used.');
      }

      let tokens;
      let accountId: string;
      try {
        tokens = await app.oauth.exchangeCode(query.code, app.redirectUri);
        accountId = await app.oauth.portalOf(tokens.accessToken);
      } catch (err) {
        if (err instanceof OAuthGrantRefusedError) return refuse(reply, 400, 'Connection refused', 'HubSpot refused the authorization (it was used already, or took too long).');
        if (err instanceof CrmUnavailableError || err instanceof CrmRateLimitedError) {
          return refuse(reply, 503, 'HubSpot unavailable', 'HubSpot could not be reached to complete the connection. Please try again in a minute.');
        }
        request.log.error({ err: (err as Error).message }, 'HubSpot refused the OAuth code exchange of this bridge\'s app: check HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and the redirect URL');
        return refuse(reply, 502, 'Connection failed', "HubSpot refused this bridge's app. The bridge's operator has been told.");
      }

      // Connecting is onboarding, as Talkdesk's first call with new credentials is: ONBOARDING applies.
      const served = await tenantOfAccount(db, 'hubspot', accountId);
      if ((await isAccountRefused(db, 'hubspot', accountId)) || (!served && mode === 'closed')) {
        return refuse(reply, 403, 'Connection refused', 'This bridge does not accept this HubSpot portal. Ask its operator.');
      }
      const connectionKey = newConnectionKey();
      await credentialsVerified(
        db,
        keys,
        ingest,
        {
          crm: 'hubspot',
          accountId,
          name: `HubSpot ${accountId}`,
          auth: { connection_key: connectionKey },
          stored: { ...CONNECTION_MARKER },
          allows: [CONTACTS_READ],
          initialStatus: mode === 'approval' ? 'awaiting_approval' : 'backfilling',
        },
        {
          also: async (tx, tenant) => {
            await saveConnection(tx, keys, tenant, tokens);
            // One connection stands behind every key of the tenant: made again, they work again.
            await connectionRestored(tx, keys, tenant);
          },
        },
      );
      request.log.info({ accountId, onboarded: !served }, 'HubSpot portal connected through OAuth');
      return html(reply.header('set-cookie', cookie('', 0)), 200, connectedPage({ accountId, connectionKey }));
    },
  );
};

export default hubspotConnectRoutes;
