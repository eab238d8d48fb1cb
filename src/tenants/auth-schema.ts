import { Type, type TSchema } from '@sinclair/typebox';

// Credentials are the fields of a form the customer filled in Talkdesk: scalars, perhaps a small
// structure. The nesting is bounded because the tenant digest canonicalizes auth recursively
// (tenants/auth-digest.ts): a few thousand levels of [[[…]]] exhausted the stack, a 500.
const AUTH_MAX_DEPTH = 4;
const AuthScalar = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);
function authValue(depth: number): TSchema {
  if (depth === 0) return AuthScalar;
  const inner = authValue(depth - 1);
  return Type.Union([AuthScalar, Type.Array(inner), Type.Record(Type.String(), inner)]);
}

/** An `auth` object as Talkdesk sends it: any keys, values nested at most AUTH_MAX_DEPTH deep. */
export const authObject = (description: string) =>
  Type.Record(Type.String(), authValue(AUTH_MAX_DEPTH), {
    description: `${description} (values nest at most ${AUTH_MAX_DEPTH} levels)`,
  });

export const AuthSchema = authObject('the credential fields the integration declared');
