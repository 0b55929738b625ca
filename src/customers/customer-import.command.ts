import { createReadStream, statSync } from 'node:fs';
import { Transform } from 'node:stream';
import type pg from 'pg';
import { AuditRepository } from '../audit/audit.repository.ts';
import { createDatabase } from '../db/client.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { CustomerRepository } from './customer.repository.ts';
import type { ImportResult } from './customer.schemas.ts';
import { CustomerService } from './customer.service.ts';

/**
 * `briefly customers import FILE`: the same streamed import as the API, with a progress bar on
 * stderr (by bytes read; redrawn in place on a terminal, every 10% otherwise).
 */
export async function runCustomerImport(
  file: string,
  pool: pg.Pool,
  logger: Logger,
  out: { stderr: NodeJS.WriteStream; stdout: NodeJS.WriteStream },
): Promise<ImportResult> {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new AppError('validation_failed', `Cannot read ${file}`);
  }
  const format = /\.(ndjson|jsonl)$/i.test(file) ? 'ndjson' : 'csv';
  const db = createDatabase(pool);
  const service = new CustomerService(new CustomerRepository(pool), pool, new AuditRepository(db), logger);
  const input = createReadStream(file, { highWaterMark: 256 * 1024 });
  let bytes = 0;
  let rows = 0;
  let lastDecile = -1;
  const draw = (final = false) => {
    const ratio = size > 0 ? Math.min(1, bytes / size) : 1;
    const width = 30;
    const filled = Math.round(ratio * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(ratio * 100)}% ${rows.toLocaleString('en-US')} rows`;
    if (out.stderr.isTTY) out.stderr.write(`\r${line}${final ? '\n' : ''}`);
    else if (final || Math.floor(ratio * 10) > lastDecile) {
      lastDecile = Math.floor(ratio * 10);
      out.stderr.write(`${line}\n`);
    }
  };
  // Counting in a transform (not a 'data' listener) keeps the file paused until the import reads it.
  const counted = input.pipe(
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    }),
  );
  input.on('error', (error) => counted.destroy(error));
  const timer = setInterval(() => draw(), 250);
  try {
    const result = await service.import(counted, format, 'cli', (read) => {
      rows = read;
    });
    bytes = size;
    draw(true);
    out.stdout.write(
      `Imported ${file}: ${result.inserted} inserted, ${result.updated} updated, ${result.rejected} rejected, ${result.duplicates_in_file} duplicate rows in the file\n`,
    );
    for (const row of result.rejected_rows.slice(0, 20))
      out.stdout.write(`  line ${row.line}: ${row.reason}\n`);
    return result;
  } finally {
    clearInterval(timer);
  }
}
