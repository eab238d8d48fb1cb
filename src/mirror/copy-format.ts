/**
 * PostgreSQL's COPY text format (one row per line, tab-separated, `\N` for NULL), which the
 * mirror writer streams batches in: PostgreSQL parses it several times faster than the same
 * batch as one JSON document.
 * https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.2
 */

const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One field. Most values need no escaping, so the common case costs one regex test. */
export function copyField(value: string | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (c) => ESCAPES[c]!) : value;
}

const ARRAY_SPECIAL = /["\\]/;
const ARRAY_SPECIAL_ALL = /["\\]/g;

/**
 * A `text[]` field: an array literal with every element quoted (so an element spelled NULL or
 * holding braces and commas stays a plain string), then escaped as a field.
 */
export function copyArrayField(values: readonly string[] | null | undefined): string {
  if (values === null || values === undefined) return '\\N';
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    literal += `${i === 0 ? '' : ','}"${ARRAY_SPECIAL.test(v) ? v.replace(ARRAY_SPECIAL_ALL, (c) => `\\${c}`) : v}"`;
  }
  return copyField(`${literal}}`);
}

