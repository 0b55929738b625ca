import { AppError, type FieldProblem } from '../errors.ts';
import { type CreateContact, createContactSchema } from './sequence.schemas.ts';

export const MAX_IMPORT_ROWS = 10_000;

/** RFC 4180 CSV: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (quoted) throw AppError.validation([{ field: 'csv', message: 'ends inside a quoted field' }]);
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((v) => v.trim() !== ''));
}

const KNOWN = ['email', 'first_name', 'last_name', 'company', 'time_zone'];

/**
 * Contacts from CSV (a header row: email, first_name, last_name, company, time_zone; any other
 * column goes into `fields`) or NDJSON (one contact object per line). Every row is checked before
 * anything is stored; the errors name the line and the field.
 */
export function parseContacts(input: {
  csv?: string;
  ndjson?: string;
  contacts?: unknown[];
}): CreateContact[] {
  let raw: { line: number; value: unknown }[];
  if (input.csv !== undefined) {
    const [header, ...rows] = parseCsv(input.csv);
    if (!header?.includes('email'))
      throw AppError.validation([
        { field: 'csv', message: 'the first row must be a header with an email column' },
      ]);
    raw = rows.map((cells, i) => {
      const value: Record<string, unknown> = { fields: {} };
      header.forEach((name, col) => {
        const cell = (cells[col] ?? '').trim();
        if (KNOWN.includes(name)) {
          if (cell !== '') value[name] = cell;
        } else if (cell !== '') (value.fields as Record<string, unknown>)[name] = cell;
      });
      return { line: i + 2, value };
    });
  } else if (input.ndjson !== undefined) {
    raw = input.ndjson
      .split(/\r?\n/)
      .map((text, i) => ({ text, line: i + 1 }))
      .filter((l) => l.text.trim() !== '')
      .map(({ text, line }) => {
        try {
          return { line, value: JSON.parse(text) as unknown };
        } catch {
          throw AppError.validation([{ field: `ndjson.line ${line}`, message: 'is not valid JSON' }]);
        }
      });
  } else {
    raw = (input.contacts ?? []).map((value, i) => ({ line: i, value }));
  }
  const where = input.csv !== undefined ? 'csv' : input.ndjson !== undefined ? 'ndjson' : 'contacts';
  if (raw.length === 0) throw AppError.validation([{ field: where, message: 'has no contacts' }]);
  if (raw.length > MAX_IMPORT_ROWS)
    throw AppError.validation([
      { field: where, message: `must have at most ${MAX_IMPORT_ROWS} contacts per request` },
    ]);
  const problems: FieldProblem[] = [];
  const contacts: CreateContact[] = [];
  const seen = new Set<string>();
  for (const { line, value } of raw) {
    const at = where === 'contacts' ? `contacts.${line}` : `${where}.line ${line}`;
    const parsed = createContactSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues.slice(0, 3))
        problems.push({ field: `${at}.${issue.path.join('.') || '(row)'}`, message: issue.message });
    } else if (seen.has(parsed.data.email)) {
      problems.push({ field: `${at}.email`, message: `repeats ${parsed.data.email} from an earlier row` });
    } else {
      seen.add(parsed.data.email);
      contacts.push(parsed.data);
    }
    if (problems.length >= 100) break;
  }
  if (problems.length) throw AppError.validation(problems);
  return contacts;
}
