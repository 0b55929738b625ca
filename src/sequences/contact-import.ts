import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { recordAudit } from '../audit/audit.repository.ts';
import { inTransaction } from '../db/client.ts';
import { AppError, type FieldProblem } from '../errors.ts';
import { copyValue, csvRows, ndjsonRows, type RawRow, rowLine } from '../shared/import-rows.ts';
import { findBadText } from '../shared/text.ts';
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

export type ContactImportFormat = 'csv' | 'ndjson';

/** What a bulk import did; rows and emails are listed up to `maxListed` (100), counted in full. */
export interface ContactImportResult {
  created: number;
  /** Emails already stored (first `maxListed`): listed, never overwritten. */
  existing: string[];
  existing_count: number;
  /** Rows refused (each with nothing stored), and what was wrong: line in the file, field, message. */
  rejected: number;
  rejected_rows: { line: number; field: string; message: string }[];
}

/**
 * Contacts streamed from a CSV (header row: email, first_name, last_name, company, time_zone, in any
 * case and order; every other column goes into `fields`) or NDJSON body (one contact object per
 * line), never held whole in memory. Each row is validated on its own as it streams; a bad row is
 * rejected whole (nothing of it is stored) and reported with its line and field, and the good rows
 * go on. A later row repeating an email of the file is rejected naming the first line. Good rows
 * are staged with COPY and inserted in one statement, in one transaction with the audit row: a
 * body that breaks off mid-stream stores nothing.
 */
export async function importContacts(
  pool: pg.Pool,
  input: Readable,
  format: ContactImportFormat,
  actor: string,
  options: { maxListed?: number } = {},
): Promise<ContactImportResult> {
  const maxListed = options.maxListed ?? 100;
  const rejectedRows: { line: number; field: string; message: string }[] = [];
  let rejected = 0;
  let read = 0;
  // Rows stream in order, so the problems of one row arrive together: one rejected row each.
  let lastRejected = -1;
  const reject = (line: number, field: string, message: string) => {
    if (line !== lastRejected) rejected++;
    lastRejected = line;
    if (rejectedRows.length < maxListed) rejectedRows.push({ line, field, message });
  };
  const rejectParse = (line: number, reason: string) => {
    const [field, ...rest] = reason.split(': ');
    reject(line, field ?? format, rest.join(': ') || reason);
  };
  const header = (names: string[]) => {
    const mapped = names.map((h) => {
      const name = h.trim();
      return KNOWN.includes(name.toLowerCase()) ? name.toLowerCase() : name;
    });
    if (!mapped.includes('email'))
      throw AppError.validation([
        { field: 'csv', message: 'the first row must be a header with an email column' },
      ]);
    return mapped;
  };

  let out = '';
  const toCopyLine = new Transform({
    writableObjectMode: true,
    flush(done) {
      done(null, out || undefined);
    },
    transform(row: RawRow, _enc, done) {
      read++;
      const line = rowLine(row);
      const value = format === 'csv' ? csvContact(row.record) : row.record;
      const bad = findBadText(value);
      if (bad) {
        reject(line, bad.field, bad.message);
        return done();
      }
      const parsed = createContactSchema.safeParse(value);
      if (!parsed.success) {
        for (const issue of parsed.error.issues.slice(0, 3))
          reject(line, issue.path.join('.') || '(row)', issue.message);
        return done();
      }
      const c = parsed.data;
      out += `${line}\t${copyValue(c.email)}\t${copyValue(c.first_name)}\t${copyValue(c.last_name)}\t${copyValue(c.company)}\t${copyValue(c.time_zone ?? null)}\t${copyValue(JSON.stringify(c.fields))}\n`;
      if (out.length < 65_536) return done();
      const chunk = out;
      out = '';
      done(null, chunk);
    },
  });

  return inTransaction(pool, async (client) => {
    await client.query(
      `CREATE TEMP TABLE contacts_import (line int, email text, first_name text, last_name text, company text,
         time_zone text, fields jsonb) ON COMMIT DROP`,
    );
    const copy = client.query(
      copyFrom(
        'COPY contacts_import (line, email, first_name, last_name, company, time_zone, fields) FROM STDIN',
      ),
    );
    const source = format === 'csv' ? csvRows(input, rejectParse, header) : ndjsonRows(input, rejectParse);
    await pipeline(source, toCopyLine, copy);
    if (read === 0 && rejected === 0)
      throw AppError.validation([{ field: format, message: 'has no contacts' }]);
    await client.query('ANALYZE contacts_import');
    // A later row repeating an email of the file is refused; the first one stands.
    const repeats = await client.query(
      `SELECT line, email, first_line, count(*) OVER ()::int AS total FROM (
         SELECT line, email, min(line) OVER (PARTITION BY email) AS first_line FROM contacts_import) d
       WHERE line > first_line ORDER BY line LIMIT $1`,
      [maxListed],
    );
    const repeated = repeats.rows[0]?.total ?? 0;
    rejected += repeated;
    for (const r of repeats.rows)
      if (rejectedRows.length < maxListed)
        rejectedRows.push({
          line: r.line,
          field: 'email',
          message: `repeats ${r.email} from line ${r.first_line}`,
        });
    const { rows } = await client.query(
      `WITH src AS (
         SELECT DISTINCT ON (email) line, email, first_name, last_name, company, time_zone, fields
         FROM contacts_import ORDER BY email, line
       ), ins AS (
         INSERT INTO contacts (email, first_name, last_name, company, time_zone, fields)
         SELECT email, first_name, last_name, company, time_zone, fields FROM src ORDER BY line
         ON CONFLICT DO NOTHING RETURNING email
       ), kept AS (
         SELECT line, email FROM src WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.email = src.email)
       )
       SELECT (SELECT count(*)::int FROM ins) AS created, (SELECT count(*)::int FROM kept) AS existing_count,
         coalesce((SELECT array_agg(email ORDER BY line) FROM (SELECT * FROM kept ORDER BY line LIMIT $1) k), '{}')
           AS existing`,
      [maxListed],
    );
    const result: ContactImportResult = {
      created: rows[0].created,
      existing: rows[0].existing,
      existing_count: rows[0].existing_count,
      rejected,
      rejected_rows: rejectedRows.sort((a, b) => a.line - b.line),
    };
    await recordAudit(client, {
      actor,
      action: 'contact.import',
      details: { format, created: result.created, existing: result.existing_count, rejected },
    });
    return result;
  });
}

/** A CSV record as a contact: known columns as they are (empty = not given), the others into `fields`. */
function csvContact(record: Record<string, unknown>): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  const fields: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(record)) {
    const cell = typeof raw === 'string' ? raw.trim() : raw;
    if (cell === '' || cell === undefined || cell === null) continue;
    if (KNOWN.includes(name)) value[name] = cell;
    else fields[name] = cell;
  }
  value.fields = fields;
  return value;
}
