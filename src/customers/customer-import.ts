import { createInterface } from 'node:readline';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { isValidTimeZone } from '../shared/time.ts';
import { type ImportResult, normalizePhone } from './customer.schemas.ts';

export type ImportFormat = 'csv' | 'ndjson';

/** A parsed row: NDJSON gives `line`, csv-parse gives `info.lines`. */
interface RawRow {
  line?: number;
  info?: { lines: number };
  record: Record<string, unknown>;
}

/** Text-format COPY escaping: backslash, tab and newlines are the only special characters. */
const copyValue = (value: string | null) =>
  value === null
    ? '\\N'
    : value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');

/**
 * Bulk upsert of customers by phone from a CSV (header row: phone, operator_code, tag, time_zone)
 * or NDJSON stream. Rows are validated one by one while streaming; good rows go through COPY into a
 * temporary staging table, then one INSERT ... ON CONFLICT merges them (the last row of a phone in
 * the file wins). A bad row is reported with its line number and never stops the good ones.
 */
export async function importCustomers(
  pool: pg.Pool,
  input: Readable,
  format: ImportFormat,
  options: { maxReportedRows?: number; onProgress?: (rowsRead: number) => void } = {},
): Promise<ImportResult> {
  const maxReported = options.maxReportedRows ?? 100;
  const rejectedRows: { line: number; reason: string }[] = [];
  let rejected = 0;
  let staged = 0;
  let read = 0;
  const reject = (line: number, reason: string) => {
    rejected++;
    if (rejectedRows.length < maxReported) rejectedRows.push({ line, reason });
  };
  const zones = new Map<string, boolean>();
  const validZone = (zone: string) => {
    let ok = zones.get(zone);
    if (ok === undefined) {
      ok = isValidTimeZone(zone);
      zones.set(zone, ok);
    }
    return ok;
  };

  // COPY text is pushed in ~64 kB chunks: one stream write per row costs more than the parsing.
  let out = '';
  const toCopyLine = new Transform({
    writableObjectMode: true,
    flush(done) {
      done(null, out || undefined);
    },
    transform(row: RawRow, _enc, done) {
      const lineNo = row.line ?? row.info?.lines ?? 0;
      read++;
      if (read % 10_000 === 0) options.onProgress?.(read);
      const r = row.record;
      const str = (v: unknown) => (v === undefined || v === null ? '' : String(v).trim());
      const phone = normalizePhone(str(r.phone));
      const problems: string[] = [];
      if (!phone)
        problems.push('phone: must be a phone number 7XXXXXXXXXX (+7…, 8…, spaces and dashes allowed)');
      const operator = str(r.operator_code) || (phone ? phone.slice(1, 4) : '');
      if (phone && !/^\d{3}$/.test(operator)) problems.push('operator_code: must be 3 digits');
      const zone = str(r.time_zone);
      if (!zone) problems.push('time_zone: is required');
      else if (!validZone(zone)) problems.push(`time_zone: "${zone.slice(0, 60)}" is not an IANA time zone`);
      const tag = str(r.tag);
      if (tag.length > 100) problems.push('tag: must be at most 100 characters');
      if (problems.length > 0) {
        reject(lineNo, problems.join('; '));
        return done();
      }
      staged++;
      out += `${lineNo}\t${phone}\t${operator}\t${tag ? copyValue(tag) : '\\N'}\t${copyValue(zone)}\n`;
      if (out.length < 65_536) return done();
      const chunk = out;
      out = '';
      done(null, chunk);
    },
  });

  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `CREATE TEMP TABLE customers_import (line int, phone text, operator_code text, tag text, time_zone text)
       ON COMMIT DROP`,
    );
    const copy = client.query(
      copyFrom('COPY customers_import (line, phone, operator_code, tag, time_zone) FROM STDIN'),
    );
    const source = format === 'csv' ? csvRows(input, reject) : ndjsonRows(input, reject);
    await pipeline(source, toCopyLine, copy);
    options.onProgress?.(read);
    await client.query('ANALYZE customers_import');
    const { rows } = await client.query<{ inserted: number; updated: number }>(
      `WITH src AS (
         SELECT DISTINCT ON (phone) phone, operator_code, tag, time_zone
         FROM customers_import ORDER BY phone, line DESC
       ), up AS (
         INSERT INTO customers (phone, operator_code, tag, time_zone)
         SELECT phone, operator_code, tag, time_zone FROM src
         ON CONFLICT (phone) DO UPDATE SET operator_code = EXCLUDED.operator_code, tag = EXCLUDED.tag,
           time_zone = EXCLUDED.time_zone, updated_at = now()
         RETURNING (xmax = 0) AS inserted
       )
       SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated
       FROM up`,
    );
    await client.query('COMMIT');
    const inserted = rows[0]?.inserted ?? 0;
    const updated = rows[0]?.updated ?? 0;
    return {
      inserted,
      updated,
      rejected,
      duplicates_in_file: staged - inserted - updated,
      rejected_rows: rejectedRows.sort((a, b) => a.line - b.line),
    };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** CSV records with their line numbers; a malformed record is reported and skipped. */
function csvRows(input: Readable, reject: (line: number, reason: string) => void): Readable {
  const parser = parse({
    columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    skip_records_with_error: true,
    info: true,
    bom: true,
  });
  parser.on('skip', (error: Error & { lines?: number }) => reject(error.lines ?? 0, `csv: ${error.message}`));
  input.on('error', (error) => parser.destroy(error));
  return input.pipe(parser);
}

/** NDJSON objects with their line numbers; a line that is not a JSON object is reported and skipped. */
function ndjsonRows(input: Readable, reject: (line: number, reason: string) => void): Readable {
  const out = new Transform({ objectMode: true, transform: (row, _enc, done) => done(null, row) });
  (async () => {
    let line = 0;
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(text);
      } catch {
        reject(line, 'json: not a valid JSON object');
        continue;
      }
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        reject(line, 'json: not a JSON object');
        continue;
      }
      if (!out.write({ line, record: record as Record<string, unknown> } satisfies RawRow))
        await new Promise((r) => out.once('drain', r));
    }
    out.end();
  })().catch((error: Error) => out.destroy(error));
  return out;
}
