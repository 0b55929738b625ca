import type { Readable } from 'node:stream';
import type pg from 'pg';
import type { AuditRepository } from '../audit/audit.repository.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { CustomerRepository } from './customer.repository.ts';
import type {
  CreateCustomerInput,
  CustomerView,
  ImportResult,
  UpdateCustomerInput,
} from './customer.schemas.ts';
import { type ImportFormat, importCustomers } from './customer-import.ts';

export class CustomerService {
  constructor(
    private readonly repo: CustomerRepository,
    private readonly pool: pg.Pool,
    private readonly audit: AuditRepository,
    private readonly logger: Logger,
  ) {}

  async create(input: CreateCustomerInput, actor: string): Promise<CustomerView> {
    const customer = await this.repo.create(input);
    await this.audit.record({ actor, action: 'customer.create', subject: `customer:${customer.id}` });
    this.logger.info('customer created', { customer_id: customer.id, actor });
    return customer;
  }

  async get(id: number): Promise<CustomerView> {
    const customer = await this.repo.get(id);
    if (!customer) throw AppError.notFound('Customer', String(id));
    return customer;
  }

  async update(id: number, input: UpdateCustomerInput, actor: string): Promise<CustomerView> {
    const customer = await this.repo.update(id, input);
    if (!customer) throw AppError.notFound('Customer', String(id));
    await this.audit.record({
      actor,
      action: 'customer.update',
      subject: `customer:${id}`,
      details: { fields: Object.keys(input) },
    });
    this.logger.info('customer updated', { customer_id: id, actor, fields: Object.keys(input) });
    return customer;
  }

  async remove(id: number, actor: string): Promise<void> {
    const result = await this.repo.delete(id);
    if (!result) throw AppError.notFound('Customer', String(id));
    await this.audit.record({
      actor,
      action: 'customer.delete',
      subject: `customer:${id}`,
      details: { cancelled_messages: result.cancelled },
    });
    this.logger.info('customer deleted', { customer_id: id, actor, cancelled_messages: result.cancelled });
  }

  async list(query: {
    /** Normalized (7XXXXXXXXXX): an exact match. */
    phone?: string;
    operator_code?: string;
    tag?: string;
    time_zone?: string;
    limit: number;
    cursor?: string;
  }): Promise<{ customers: CustomerView[]; next_cursor: string | null }> {
    const rows = await this.repo.list({
      ...query,
      limit: query.limit + 1,
      after: query.cursor ? Number(query.cursor) : undefined,
    });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return { customers: page, next_cursor: rows.length > query.limit && last ? String(last.id) : null };
  }

  async import(
    input: Readable,
    format: ImportFormat,
    actor: string,
    onProgress?: (rowsRead: number) => void,
  ): Promise<ImportResult> {
    const started = Date.now();
    const result = await importCustomers(this.pool, input, format, { onProgress });
    await this.audit.record({
      actor,
      action: 'customer.import',
      subject: 'customers',
      details: {
        inserted: result.inserted,
        updated: result.updated,
        rejected: result.rejected,
        duplicates_in_file: result.duplicates_in_file,
      },
    });
    this.logger.info('customers imported', {
      actor,
      format,
      inserted: result.inserted,
      updated: result.updated,
      rejected: result.rejected,
      duration_ms: Date.now() - started,
    });
    return result;
  }
}
