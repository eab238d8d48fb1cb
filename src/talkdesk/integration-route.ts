import createError from '@fastify/error';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { talkdeskForms } from '../crm/registry.js';

const CrmNotEnabledError = createError<[string, string]>('CRM_NOT_ENABLED', 'this bridge has no %s integration (it has: %s)', 404);

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
 * GET /talkdesk/integration.json: what an operator hands to Talkdesk to register this bridge, one
 * document per enabled CRM (`?crm=pipedrive`; the first enabled CRM's without it), whose form
 * asks for exactly the `auth` fields that CRM's connector accepts.
 * Built from PUBLIC_URL (the bridge's public HTTPS base; Talkdesk calls bridges over HTTPS only),
 * or from the request's own host when it is unset (development).
 */
const integrationRoute: FastifyPluginAsyncTypebox<{ oauth?: boolean }> = async (app, { oauth = false }) => {
  const { config } = app;
  const forms = talkdeskForms(config, { oauth });
  app.get(
    '/talkdesk/integration.json',
    {
      schema: {
        summary: 'The Talkdesk integration configuration of this bridge, for one of its CRMs',
        tags: ['talkdesk'],
        querystring: Type.Object({ crm: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: "the CRM (e.g. 'pipedrive'); the first enabled one by default" })) }),
        response: { 200: IntegrationSchema },
      },
    },
    async (request) => {
      const wanted = request.query.crm;
      const entry = wanted === undefined ? forms[0] : forms.find((f) => f.kind === wanted);
      if (!entry) throw new CrmNotEnabledError(wanted ?? 'CRM', forms.map((f) => f.kind).join(', ') || 'none');
      const { kind, form } = entry;
      const base = (config.PUBLIC_URL ?? `${request.protocol}://${request.host}`).replace(/\/$/, '');
      return {
        name: `contact_bridge_${kind}`,
        display_name: form.displayName,
        description: form.description,
        authentication_type: 'custom' as const,
        authentication_fields: form.fields.map((f) => ({ name: f.name, display_name: f.displayName, mandatory: true, help_text: f.helpText })),
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
