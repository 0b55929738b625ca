import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { copyValue, csvRows, ndjsonRows, type RawRow, rowLine } from '../shared/import-rows.ts';
import { isValidTimeZone } from '../shared/time.ts';
import { type ImportResult, normalizePhone } from './customer.schemas.ts';

export type ImportFormat = 'csv' | 'ndjson';

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
      const lineNo = rowLine(row);
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
