/**
 * Text as the mirror can store it, for every CRM's mapping: the limits of ContactSchema
 * (src/mirror/contact.ts; the schema checks in the mapping tests keep them in step), values
 * cleaned and cut to them, lists de-duplicated.
 */
export const MAX_ID = 512;
export const MAX_TEXT = 2048;
export const MAX_LONG_TEXT = 4096;
export const MAX_ITEMS = 100;

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Storable text, trimmed; undefined when nothing is left. PostgreSQL text cannot hold U+0000
 * (dropped), and an unpaired surrogate has no UTF-8 form (replaced by U+FFFD, as a UTF-8 decoder
 * would); the mirror refuses both (mirror/contact.ts), so a CRM value holding one must not stop
 * its whole page.
 */
export function clean(value: string | null | undefined): string | undefined {
  const v = value?.replaceAll('\u0000', '').replace(UNPAIRED_SURROGATE, '\uFFFD').trim();
  return v ? v : undefined;
}

/**
 * Cut to at most `max` UTF-16 code units (the unit of JSON Schema's maxLength as TypeBox checks
 * it) without splitting a surrogate pair, and trimmed again so the cut leaves no trailing blank.
 */
export function fit(value: string, max: number): string;
export function fit(value: string | undefined, max: number): string | undefined;
export function fit(value: string | undefined, max: number): string | undefined {
  if (value === undefined || value.length <= max) return value;
  let end = max;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1; // a high surrogate whose low half would be cut off
  return value.slice(0, end).trimEnd();
}

/** Present values, each cut to the item limit, de-duplicated by `key` (first one kept), at most 100. */
export function list(values: (string | undefined)[], key: (value: string) => string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const value of values) {
    if (value === undefined) continue;
    const item = fit(value, MAX_TEXT);
    const k = key(item);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(item);
    if (out.length === MAX_ITEMS) break;
  }
  return out;
}
