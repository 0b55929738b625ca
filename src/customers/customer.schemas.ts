import { z } from 'zod';
import { isValidTimeZone } from '../shared/time.ts';

/**
 * Normalizes a Russian mobile number to its 11 digits 7XXXXXXXXXX: accepts +7…, 7… and 8…, with
 * spaces, dashes and parentheses. Anything else is undefined (the caller names the field).
 */
export function normalizePhone(raw: string): string | undefined {
  const compact = raw.trim().replace(/[\s\-()]/g, '');
  const match = /^(?:\+7|7|8)(\d{10})$/.exec(compact);
  return match ? `7${match[1]}` : undefined;
}

const PHONE_MESSAGE = 'must be a phone number 7XXXXXXXXXX (+7…, 8…, spaces and dashes allowed)';

export const phoneSchema = z
  .string({ message: PHONE_MESSAGE })
  .transform((value, ctx) => {
    const phone = normalizePhone(value);
    if (!phone) {
      ctx.addIssue({ code: 'custom', message: PHONE_MESSAGE });
      return z.NEVER;
    }
    return phone;
  })
  .meta({ example: '+7 916 123-45-67' });

export const operatorCodeSchema = z
  .string()
  .regex(/^\d{3}$/, 'must be 3 digits such as 916')
  .meta({ example: '916' });

export const timeZoneSchema = z
  .string({ message: 'is required' })
  .trim()
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Europe/Moscow or Asia/Kolkata' })
  .meta({ example: 'Europe/Moscow' });

export const tagSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters');

export const createCustomerSchema = z
  .object({
    phone: phoneSchema,
    operator_code: operatorCodeSchema.optional(),
    tag: tagSchema.nullable().optional(),
    time_zone: timeZoneSchema,
  })
  .strict()
  .meta({ example: { phone: '+7 916 123-45-67', tag: 'vip', time_zone: 'Europe/Moscow' } });

export const updateCustomerSchema = z
  .object({
    phone: phoneSchema,
    operator_code: operatorCodeSchema,
    tag: tagSchema.nullable(),
    time_zone: timeZoneSchema,
  })
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, { message: 'must change at least one field' })
  .meta({ example: { tag: 'vip' } });

export type CreateCustomerInput = z.output<typeof createCustomerSchema>;
export type UpdateCustomerInput = z.output<typeof updateCustomerSchema>;

export const customerSchema = z
  .object({
    id: z.number().int(),
    phone: z.string(),
    operator_code: z.string(),
    tag: z.string().nullable(),
    time_zone: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    example: {
      id: 42,
      phone: '79161234567',
      operator_code: '916',
      tag: 'vip',
      time_zone: 'Europe/Moscow',
      created_at: '2026-12-01T09:00:00.000Z',
      updated_at: '2026-12-01T09:00:00.000Z',
    },
  });
export type CustomerView = z.infer<typeof customerSchema>;

export const customerListQuery = z.object({
  operator_code: operatorCodeSchema.optional(),
  tag: z.string().max(100).optional(),
  time_zone: z.string().max(100).optional(),
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
  cursor: z.string().regex(/^\d+$/, 'is not a cursor returned by this API').optional(),
});

export const importResultSchema = z
  .object({
    inserted: z.number().int(),
    updated: z.number().int(),
    rejected: z.number().int(),
    duplicates_in_file: z.number().int(),
    rejected_rows: z.array(z.object({ line: z.number().int(), reason: z.string() })),
  })
  .meta({
    example: {
      inserted: 998,
      updated: 1,
      rejected: 1,
      duplicates_in_file: 0,
      rejected_rows: [{ line: 7, reason: 'phone: must be a phone number 7XXXXXXXXXX' }],
    },
  });
export type ImportResult = z.infer<typeof importResultSchema>;
