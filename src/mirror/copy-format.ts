import type { Contact } from './contact.js';

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


/**
 * A contact as a row of the writer's staging table: its columns, the CRM's change time, and its
 * response document. JSON.stringify escapes every character COPY or an array literal treats
 * specially (backslash, quote, tab, newline, carriage return) with a backslash, so a document
 * without one proves no field needs escaping, and the row is written in one template: the
 * common case, and several times cheaper than escaping field by field.
 */
export function copyRow(contact: Contact, sourceUpdatedAt: string | null | undefined): string {
  const doc = JSON.stringify(contact);
  const c = contact;
  if (!doc.includes('\\')) {
    return `${c.id}\t${c.name}\t${c.company ?? '\\N'}\t${c.title ?? '\\N'}\t${plainArray(c.emails)}\t${plainArray(c.phones)}\t${c.photo_url ?? '\\N'}\t${c.address ?? '\\N'}\t${plainArray(c.websites)}\t${c.twitter ?? '\\N'}\t${c.url ?? '\\N'}\t${copyField(sourceUpdatedAt)}\t${doc}`;
  }
  return [
    copyField(c.id),
    copyField(c.name),
    copyField(c.company),
    copyField(c.title),
    copyArrayField(c.emails),
    copyArrayField(c.phones),
    copyField(c.photo_url),
    copyField(c.address),
    copyArrayField(c.websites),
    copyField(c.twitter),
    copyField(c.url),
    copyField(sourceUpdatedAt),
    copyField(doc),
  ].join('\t');
}

const plainArray = (values: readonly string[] | undefined): string => (values ? `{"${values.join('","')}"}` : '\\N');
