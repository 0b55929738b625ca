import type pg from 'pg';
import { AppError } from '../errors.ts';
import type { CreateCustomerInput, CustomerView, UpdateCustomerInput } from './customer.schemas.ts';

interface CustomerRow {
  id: string;
  phone: string;
  operator_code: string;
  tag: string | null;
  time_zone: string;
  created_at: Date;
  updated_at: Date;
}

export const toCustomerView = (row: CustomerRow): CustomerView => ({
  id: Number(row.id),
  phone: row.phone,
  operator_code: row.operator_code,
  tag: row.tag,
  time_zone: row.time_zone,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
});

const COLUMNS = 'id, phone, operator_code, tag, time_zone, created_at, updated_at';

function conflict(error: unknown): AppError | undefined {
  if ((error as { code?: string }).code === '23505') {
    return new AppError('conflict', 'A customer with this phone already exists', {
      fields: [{ field: 'phone', message: 'is already used by another customer' }],
    });
  }
  return undefined;
}

export class CustomerRepository {
  constructor(private readonly pool: pg.Pool) {}

  async create(input: CreateCustomerInput): Promise<CustomerView> {
    try {
      const { rows } = await this.pool.query<CustomerRow>(
        `INSERT INTO customers (phone, operator_code, tag, time_zone) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
        [input.phone, input.operator_code ?? input.phone.slice(1, 4), input.tag ?? null, input.time_zone],
      );
      return toCustomerView(rows[0] as CustomerRow);
    } catch (error) {
      throw conflict(error) ?? error;
    }
  }

  async get(id: number): Promise<CustomerView | undefined> {
    const { rows } = await this.pool.query<CustomerRow>(`SELECT ${COLUMNS} FROM customers WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? toCustomerView(rows[0]) : undefined;
  }

  async update(id: number, input: UpdateCustomerInput): Promise<CustomerView | undefined> {
    const sets: string[] = [];
    const values: unknown[] = [id];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (input.phone !== undefined) set('phone', input.phone);
    if (input.operator_code !== undefined) set('operator_code', input.operator_code);
    if (input.tag !== undefined) set('tag', input.tag);
    if (input.time_zone !== undefined) set('time_zone', input.time_zone);
    try {
      const { rows } = await this.pool.query<CustomerRow>(
        `UPDATE customers SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
        values,
      );
      return rows[0] ? toCustomerView(rows[0]) : undefined;
    } catch (error) {
      throw conflict(error) ?? error;
    }
  }

  /**
   * Deletes the customer and cancels their unsent mailout messages in one transaction. The DELETE
   * waits for a send batch that holds the customer's row (FOR KEY SHARE), so once this returns no
   * request for this customer is in flight and none will start.
   */
  async delete(id: number): Promise<{ customer: CustomerView; cancelled: number } | undefined> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<CustomerRow>(
        `DELETE FROM customers WHERE id = $1 RETURNING ${COLUMNS}`,
        [id],
      );
      if (!rows[0]) {
        await client.query('ROLLBACK');
        return undefined;
      }
      const cancelled = await client.query(
        `UPDATE mailout_messages SET status = 'cancelled', last_error = 'customer deleted', updated_at = now()
         WHERE customer_id = $1 AND status = 'pending'`,
        [id],
      );
      await client.query('COMMIT');
      return { customer: toCustomerView(rows[0]), cancelled: cancelled.rowCount ?? 0 };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async list(filter: {
    phone?: string;
    operator_code?: string;
    tag?: string;
    time_zone?: string;
    limit: number;
    after?: number;
  }): Promise<CustomerView[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (clause: string, value: unknown) => {
      values.push(value);
      where.push(clause.replace('?', `$${values.length}`));
    };
    if (filter.phone) add('phone = ?', filter.phone);
    if (filter.operator_code) add('operator_code = ?', filter.operator_code);
    if (filter.tag) add('tag = ?', filter.tag);
    if (filter.time_zone) add('time_zone = ?', filter.time_zone);
    if (filter.after !== undefined) add('id > ?', filter.after);
    values.push(filter.limit);
    const { rows } = await this.pool.query<CustomerRow>(
      `SELECT ${COLUMNS} FROM customers ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id LIMIT $${values.length}`,
      values,
    );
    return rows.map(toCustomerView);
  }
}
