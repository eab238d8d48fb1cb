import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

/**
 * What a Pipedrive API token looks like. A user's personal token is 40 hexadecimal characters;
 * the pattern is wider (letters, digits, `._~-`), since nothing documents that it stays so, but
 * never admits a space, a control or a non-ASCII character: such a string is no token, and refused
 * here it never reaches the HTTP client (whose header check would fail with it in the message).
 */
export const PIPEDRIVE_TOKEN_PATTERN = '^[A-Za-z0-9._~-]+$';
export const PIPEDRIVE_TOKEN_MAX_LENGTH = 256;

/** Talkdesk's `auth` for a Pipedrive user's API token: exactly `{ "api_token": "…" }`. */
export const PipedriveAuthSchema = Type.Object(
  {
    api_token: Type.String({
      minLength: 1,
      maxLength: PIPEDRIVE_TOKEN_MAX_LENGTH,
      pattern: PIPEDRIVE_TOKEN_PATTERN,
      description: "a Pipedrive user's personal API token (an admin's: Pipedrive's visibility settings can hide persons from other users)",
    }),
  },
  { additionalProperties: false },
);

const authCheck = TypeCompiler.Compile(PipedriveAuthSchema);

/** The token of an `auth` that has exactly Pipedrive's fields and a well-formed token; otherwise undefined. */
export function pipedriveToken(auth: unknown): string | undefined {
  return authCheck.Check(auth) ? auth.api_token : undefined;
}
