import { createInterface } from 'node:readline';
import { type Readable, Transform } from 'node:stream';
import { parse } from 'csv-parse';

/** A parsed row of a streamed import: NDJSON gives `line`, csv-parse gives `info.lines`. */
export interface RawRow {
  line?: number;
  info?: { lines: number };
  record: Record<string, unknown>;
}

/** The line a row ended on in the uploaded file (1 = the first line, a CSV's header). */
export const rowLine = (row: RawRow): number => row.line ?? row.info?.lines ?? 0;

/**
 * CSV records (RFC 4180, header row first) with their line numbers; a malformed record is reported
 * through `reject` and skipped. `header` maps each header cell (default: trimmed, lower case) and
 * may throw to refuse the whole file (the error ends the stream).
 */
export function csvRows(
  input: Readable,
  reject: (line: number, reason: string) => void,
  header: (names: string[]) => string[] = (names) => names.map((h) => h.trim().toLowerCase()),
): Readable {
  const parser = parse({
    columns: header,
    skip_empty_lines: true,
    trim: true,
    relax_column_count: true,
    skip_records_with_error: true,
    info: true,
    raw: true,
    bom: true,
  });
  // csv-parse counts a CRLF inside a quoted field as two lines (csv-parse 6.2): every one seen so far
  // is taken off the line numbers it reports, found in each record's raw text.
  let extraLines = 0;
  const lines = new Transform({
    objectMode: true,
    transform(row: RawRow & { raw?: string }, _enc, done) {
      extraLines += row.raw?.match(/\r\n/g)?.length ?? 0;
      done(null, {
        record: row.record,
        info: { lines: (row.info?.lines ?? 0) - extraLines },
      } satisfies RawRow);
    },
  });
  parser.on('skip', (error: Error & { lines?: number }) =>
    reject((error.lines ?? 0) - extraLines, `csv: ${error.message}`),
  );
  input.on('error', (error) => parser.destroy(error));
  parser.on('error', (error) => lines.destroy(error));
  return input.pipe(parser).pipe(lines);
}

/** NDJSON objects with their line numbers; a line that is not a JSON object is reported and skipped. */
export function ndjsonRows(input: Readable, reject: (line: number, reason: string) => void): Readable {
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

/** Text-format COPY escaping: backslash, tab and newlines are the only special characters. */
export const copyValue = (value: string | null): string =>
  value === null
    ? '\\N'
    : value.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
