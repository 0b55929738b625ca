import { bigserial, index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Customers who receive mailouts (SMS-style). `phone` is the normalized 11 digits 7XXXXXXXXXX. */
export const customers = pgTable(
  'customers',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    phone: text('phone').notNull().unique(),
    operatorCode: text('operator_code').notNull(),
    tag: text('tag'),
    timeZone: text('time_zone').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('customers_operator_code_idx').on(t.operatorCode),
    index('customers_tag_idx').on(t.tag),
    index('customers_time_zone_idx').on(t.timeZone),
  ],
);
