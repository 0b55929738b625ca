import { z } from 'zod';
import { operatorCodeSchema } from '../customers/customer.schemas.ts';
import { LOCAL_TIME } from '../shared/time.ts';
import { MAILOUT_MESSAGE_STATUSES, MAILOUT_STATUSES } from './mailout.tables.ts';

const instant = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 instant such as 2026-12-07T09:00:00+03:00' })
  .transform((value) => new Date(value));
const localTime = z.string().regex(LOCAL_TIME, 'must be a 24-hour local time HH:MM such as 10:00');

export const filterSchema = z
  .object({
    operator_codes: z.array(operatorCodeSchema).max(1000).default([]),
    tags: z.array(z.string().trim().min(1).max(100)).max(1000).default([]),
  })
  .strict();

export const windowSchema = z
  .object({ from: localTime, to: localTime })
  .strict()
  .refine((w) => w.from !== w.to, {
    message: 'from and to must differ (omit the window to send at any time)',
  });

const actorId = z.string().trim().min(1).max(100);

const fields = {
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  text: z.string().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
  starts_at: instant,
  ends_at: instant,
  filter: filterSchema,
  window: windowSchema.nullable(),
};

const endsAfterStarts = (v: { starts_at?: Date; ends_at?: Date }) =>
  !v.starts_at || !v.ends_at || v.ends_at.getTime() > v.starts_at.getTime();

export const createMailoutSchema = z
  .object({
    ...fields,
    filter: filterSchema.optional(),
    window: windowSchema.nullable().optional(),
    /** Slack user id or rep id of the author; defaults to the API key. */
    created_by: actorId.optional(),
    /** false keeps it a draft; otherwise it goes to approval (or straight to scheduled without managers). */
    submit: z.boolean().default(true),
  })
  .strict()
  .refine(endsAfterStarts, { message: 'must be after starts_at', path: ['ends_at'] })
  .meta({
    example: {
      name: 'VIP December',
      text: 'Your personal offer is waiting: -20% until Wednesday.',
      starts_at: '2026-12-07T09:00:00+03:00',
      ends_at: '2026-12-09T18:00:00+03:00',
      filter: { operator_codes: ['916'], tags: ['vip'] },
      window: { from: '10:00', to: '20:00' },
      created_by: 'U012ABCDEF',
    },
  });

export const updateMailoutSchema = z
  .object({ ...fields, version: z.number().int().positive().optional(), actor: actorId.optional() })
  .partial()
  .strict()
  .refine(endsAfterStarts, { message: 'must be after starts_at', path: ['ends_at'] })
  .meta({ example: { text: 'Updated text', version: 2 } });

export const approveSchema = z
  .object({
    /** Slack user id or rep id of the manager approving. */
    approved_by: actorId,
    /** The version being approved; refused if the mailout changed since. */
    version: z.number().int().positive(),
  })
  .strict()
  .meta({ example: { approved_by: 'U0MANAGER1', version: 1 } });

export const rejectSchema = z
  .object({
    rejected_by: actorId,
    reason: z.string().trim().max(1000).optional(),
    /** When given, refused if the mailout changed since this version. */
    version: z.number().int().positive().optional(),
  })
  .strict()
  .meta({ example: { rejected_by: 'U0MANAGER1', reason: 'Wrong audience' } });

export const actorBodySchema = z
  .object({ actor: actorId.optional() })
  .strict()
  .meta({ example: { actor: 'U012ABCDEF' } });

export const addMessageSchema = z
  .object({ customer_id: z.number().int().positive() })
  .strict()
  .meta({ example: { customer_id: 42 } });

export type CreateMailoutInput = z.output<typeof createMailoutSchema>;
export type UpdateMailoutInput = z.output<typeof updateMailoutSchema>;

export const mailoutStatusSchema = z.enum(MAILOUT_STATUSES);
export const messageStatusSchema = z.enum(MAILOUT_MESSAGE_STATUSES);

export const mailoutSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    text: z.string(),
    starts_at: z.string(),
    ends_at: z.string(),
    filter: z.object({ operator_codes: z.array(z.string()), tags: z.array(z.string()) }),
    window: z.object({ from: z.string(), to: z.string() }).nullable(),
    created_by: z.string(),
    version: z.number().int(),
    status: mailoutStatusSchema,
    approved_version: z.number().int().nullable(),
    approved_by: z.string().nullable(),
    approved_at: z.string().nullable(),
    rejected_by: z.string().nullable(),
    rejection_reason: z.string().nullable(),
    started_at: z.string().nullable(),
    ended_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({
    example: {
      id: 7,
      name: 'VIP December',
      text: 'Your personal offer is waiting: -20% until Wednesday.',
      starts_at: '2026-12-07T06:00:00.000Z',
      ends_at: '2026-12-09T15:00:00.000Z',
      filter: { operator_codes: ['916'], tags: ['vip'] },
      window: { from: '10:00', to: '20:00' },
      created_by: 'U012ABCDEF',
      version: 1,
      status: 'pending_approval',
      approved_version: null,
      approved_by: null,
      approved_at: null,
      rejected_by: null,
      rejection_reason: null,
      started_at: null,
      ended_at: null,
      created_at: '2026-12-02T10:00:00.000Z',
      updated_at: '2026-12-02T10:00:00.000Z',
    },
  });
export type MailoutView = z.infer<typeof mailoutSchema>;

export const countsSchema = z.record(z.string(), z.number().int());

export const previewQuery = z.object({
  operator_codes: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    )
    .pipe(z.array(operatorCodeSchema)),
  tags: z
    .string()
    .optional()
    .transform((v) =>
      v
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [],
    ),
  window_from: localTime.optional(),
  window_to: localTime.optional(),
});

export const previewSchema = z
  .object({
    total: z.number().int(),
    in_window_now: z.number().int(),
    by_time_zone: z.array(
      z.object({ time_zone: z.string(), count: z.number().int(), in_window_now: z.boolean() }),
    ),
  })
  .meta({
    example: {
      total: 1200,
      in_window_now: 700,
      by_time_zone: [
        { time_zone: 'Europe/Moscow', count: 700, in_window_now: true },
        { time_zone: 'Asia/Vladivostok', count: 500, in_window_now: false },
      ],
    },
  });

export const statsListSchema = z
  .object({
    mailouts: z.array(
      z.object({ id: z.number().int(), name: z.string(), status: mailoutStatusSchema, counts: countsSchema }),
    ),
  })
  .meta({
    example: {
      mailouts: [{ id: 7, name: 'VIP December', status: 'running', counts: { sent: 900, pending: 300 } }],
    },
  });

export const mailoutStatsSchema = z
  .object({
    id: z.number().int(),
    status: mailoutStatusSchema,
    total: z.number().int(),
    counts: countsSchema,
    by_operator_code: z.record(z.string(), countsSchema),
    by_time_zone: z.record(z.string(), countsSchema),
    by_hour_sent: z.array(z.object({ hour: z.string(), sent: z.number().int() })),
    errors: z.array(z.object({ reason: z.string(), count: z.number().int() })),
    first_sent_at: z.string().nullable(),
    last_sent_at: z.string().nullable(),
    throughput_per_second: z.number().nullable(),
  })
  .meta({
    example: {
      id: 7,
      status: 'running',
      total: 1200,
      counts: { sent: 900, pending: 280, failed: 20 },
      by_operator_code: { '916': { sent: 900, pending: 280, failed: 20 } },
      by_time_zone: {
        'Europe/Moscow': { sent: 700 },
        'Asia/Vladivostok': { sent: 200, pending: 280, failed: 20 },
      },
      by_hour_sent: [{ hour: '2026-12-07T07:00:00.000Z', sent: 900 }],
      errors: [{ reason: '400: {"code":1,"message":"bad phone"}', count: 20 }],
      first_sent_at: '2026-12-07T07:00:01.000Z',
      last_sent_at: '2026-12-07T07:15:00.000Z',
      throughput_per_second: 1.0,
    },
  });

export const messageSchema = z
  .object({
    id: z.number().int(),
    mailout_id: z.number().int(),
    customer_id: z.number().int(),
    phone: z.string().nullable(),
    time_zone: z.string(),
    operator_code: z.string(),
    status: messageStatusSchema,
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    next_attempt_at: z.string(),
    created_at: z.string(),
    sent_at: z.string().nullable(),
  })
  .meta({
    example: {
      id: 1001,
      mailout_id: 7,
      customer_id: 42,
      phone: '79161234567',
      time_zone: 'Europe/Moscow',
      operator_code: '916',
      status: 'sent',
      attempts: 2,
      last_error: null,
      next_attempt_at: '2026-12-07T07:00:00.000Z',
      created_at: '2026-12-07T06:00:00.000Z',
      sent_at: '2026-12-07T07:00:03.000Z',
    },
  });

export const attemptSchema = z.object({
  at: z.string(),
  status_code: z.number().int().nullable(),
  latency_ms: z.number().int(),
  outcome: z.string(),
  error: z.string().nullable(),
});

export const messageDetailSchema = messageSchema.extend({ attempts_log: z.array(attemptSchema) }).meta({
  example: {
    id: 1001,
    mailout_id: 7,
    customer_id: 42,
    phone: '79161234567',
    time_zone: 'Europe/Moscow',
    operator_code: '916',
    status: 'sent',
    attempts: 2,
    last_error: null,
    next_attempt_at: '2026-12-07T07:00:00.000Z',
    created_at: '2026-12-07T06:00:00.000Z',
    sent_at: '2026-12-07T07:00:03.000Z',
    attempts_log: [
      {
        at: '2026-12-07T07:00:00.000Z',
        status_code: 503,
        latency_ms: 12,
        outcome: 'transient',
        error: '503: busy',
      },
      { at: '2026-12-07T07:00:03.000Z', status_code: 200, latency_ms: 21, outcome: 'sent', error: null },
    ],
  },
});

export const messageListQuery = z.object({
  status: messageStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().regex(/^\d+$/, 'is not a cursor returned by this API').optional(),
});

export const mailoutListQuery = z.object({
  status: mailoutStatusSchema.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().regex(/^\d+$/, 'is not a cursor returned by this API').optional(),
});
