/**
 * How a secret can sit in stored text without being spelled out: hex, base64 and base64url (at
 * each of the three alignments it can have inside a longer encoded value, which shifts every
 * character), URL and form encoding, and JSON string escaping.
 */
export interface EncodedForm {
  encoding: string;
  text: string;
  caseInsensitive?: boolean;
}

export function encodedForms(secret: string): EncodedForm[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms: EncodedForm[] = [
    { encoding: 'plain', text: secret },
    { encoding: 'json', text: JSON.stringify(secret).slice(1, -1) },
    { encoding: 'url', text: encodeURIComponent(secret) },
    { encoding: 'form', text: new URLSearchParams({ x: secret }).toString().slice(2) },
    { encoding: 'hex', text: bytes.toString('hex'), caseInsensitive: true },
  ];
  for (const alphabet of ['base64', 'base64url'] as const) {
    for (let lead = 0; lead < 3; lead++) {
      // With `lead` bytes before it, the characters that depend on the secret's bytes alone are
      // those from bit 8·lead to the last whole sextet inside it.
      const encoded = Buffer.concat([Buffer.alloc(lead), bytes]).toString(alphabet);
      const from = Math.ceil((8 * lead) / 6);
      const to = Math.floor((8 * (lead + bytes.length)) / 6);
      forms.push({ encoding: `${alphabet}+${lead}`, text: encoded.slice(from, to) });
    }
  }
  return forms;
}

export interface Finding {
  secret: string;
  encoding: string;
  where: string;
}

/** Every form of every secret found in the haystack, named for the report. */
export function findSecrets(haystack: string, secrets: Record<string, string>, where: string): Finding[] {
  const lower = haystack.toLowerCase();
  const found: Finding[] = [];
  for (const [name, secret] of Object.entries(secrets)) {
    for (const form of encodedForms(secret)) {
      const hit = form.caseInsensitive ? lower.includes(form.text.toLowerCase()) : haystack.includes(form.text);
      if (hit) found.push({ secret: name, encoding: form.encoding, where });
    }
  }
  return found;
}
