import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/** Talkdesk's integration configuration document (shared/talkdesk-contact-sync.md, "Integration configuration"). */
export const IntegrationSchema = Type.Object({
  name: Type.String(),
  display_name: Type.String(),
  description: Type.String(),
  authentication_type: Type.Literal('custom'),
  authentication_fields: Type.Array(
    Type.Object({ name: Type.String(), display_name: Type.String(), mandatory: Type.Boolean(), help_text: Type.String() }),
  ),
  endpoints: Type.Object({ contact_synchronization: Type.String(), auth_validation: Type.String() }),
  logo_url: Type.String(),
});

/**
 * GET /talkdesk/integration.json: what an operator hands to Talkdesk to register this bridge.
 * Built from PUBLIC_URL (the bridge's public HTTPS base; Talkdesk calls bridges over HTTPS only),
 * or from the request's own host when it is unset (development).
 */
const integrationRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app;
  app.get(
    '/talkdesk/integration.json',
    { schema: { summary: 'The Talkdesk integration configuration of this bridge', tags: ['talkdesk'], response: { 200: IntegrationSchema } } },
    async (request) => {
      const base = (config.PUBLIC_URL ?? `${request.protocol}://${request.host}`).replace(/\/$/, '');
      return {
        name: 'contact_bridge_hubspot',
        display_name: 'HubSpot contacts',
        description: 'Identifies callers from your HubSpot contacts: names, companies, emails and phone numbers, kept in sync every few minutes.',
        authentication_type: 'custom' as const,
        authentication_fields: [
          {
            name: 'access_token',
            display_name: 'HubSpot private app access token',
            mandatory: true,
            help_text:
              'In HubSpot, open Settings → Integrations → Private Apps, create an app with the scope crm.objects.contacts.read, and paste its access token here. See https://developers.hubspot.com/docs/api/private-apps',
          },
        ],
        endpoints: {
          contact_synchronization: `${base}${config.SYNC_PATH}`,
          auth_validation: `${base}/auth_validation`,
        },
        logo_url: `${base}/talkdesk/logo.svg`,
      };
    },
  );

  // A small neutral logo, so the document's logo URL resolves.
  app.get('/talkdesk/logo.svg', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('image/svg+xml')
      .send(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#ff7a59"/><text x="32" y="41" font-size="24" text-anchor="middle" fill="#fff" font-family="sans-serif">CB</text></svg>',
      ),
  );
};

export default integrationRoute;
