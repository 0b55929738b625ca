import { DateTime } from 'luxon';
import { z } from 'zod';
import { headerText, lowercaseEmail, typeMessage } from '../shared/text.ts';
import { isValidTimeZone, LOCAL_TIME } from '../shared/time.ts';
import { STATS_SECTIONS } from './stats.tables.ts';

const timeZone = z
  .string({ error: typeMessage('a string') })
  .trim()
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Asia/Kolkata or America/New_York' });

const localTime = z
  .string({ error: typeMessage('a string') })
  .trim()
  .regex(LOCAL_TIME, 'must be a local time HH:MM such as 09:00');

const sections = z
  .array(z.enum(STATS_SECTIONS, { message: `must be one of ${STATS_SECTIONS.join(', ')}` }), {
    error: typeMessage(`an array of ${STATS_SECTIONS.join(', ')}`),
  })
  .min(1, 'must name at least one section')
  .transform((list) => STATS_SECTIONS.filter((s) => list.includes(s)));

export const slackChannelId = z
  .string({ error: typeMessage('a string') })
  .trim()
  .regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C012ABCDEF');

const email = lowercaseEmail;

export const createStatsChannelSchema = z
  .object({
    channel_id: slackChannelId,
    time: localTime.default('09:00'),
    time_zone: timeZone,
    sections: sections.default([...STATS_SECTIONS]),
  })
  .strict();
export const updateStatsChannelSchema = z
  .object({ channel_id: slackChannelId, time: localTime, time_zone: timeZone, sections })
  .partial()
  .strict();
export type CreateStatsChannelInput = z.output<typeof createStatsChannelSchema>;
export type UpdateStatsChannelInput = z.output<typeof updateStatsChannelSchema>;

export const statsChannelSchema = z.object({
  id: z.uuid(),
  channel_id: z.string(),
  time: z.string(),
  time_zone: z.string(),
  sections: z.array(z.enum(STATS_SECTIONS)),
  status: z.enum(['active', 'broken']),
  broken_reason: z.string().nullable(),
  broken_at: z.string().nullable(),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const createStatsRecipientSchema = z
  .object({
    email,
    name: headerText({ min: 1, max: 120 }).nullable().default(null),
    time: localTime.default('09:00'),
    time_zone: timeZone,
    sections: sections.default([...STATS_SECTIONS]),
  })
  .strict();
export const updateStatsRecipientSchema = z
  .object({
    email,
    name: headerText({ min: 1, max: 120 }).nullable(),
    time: localTime,
    time_zone: timeZone,
    sections,
  })
  .partial()
  .strict();
export type CreateStatsRecipientInput = z.output<typeof createStatsRecipientSchema>;
export type UpdateStatsRecipientInput = z.output<typeof updateStatsRecipientSchema>;

export const statsRecipientSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string().nullable(),
  time: z.string(),
  time_zone: z.string(),
  sections: z.array(z.enum(STATS_SECTIONS)),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const statsQuerySchema = z
  .object({
    date: z
      .string({ error: typeMessage('a date') })
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
      .refine((d) => DateTime.fromISO(d, { zone: 'UTC' }).isValid, 'must be a real calendar date'),
    time_zone: timeZone,
    sections: z
      .string({ error: typeMessage('a comma-separated list') })
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return [...STATS_SECTIONS];
        const words = value
          .split(',')
          .map((w) => w.trim())
          .filter(Boolean);
        const unknown = words.filter((w) => !(STATS_SECTIONS as readonly string[]).includes(w));
        if (words.length === 0 || unknown.length > 0) {
          ctx.addIssue({
            code: 'custom',
            message: `must be a comma-separated list of ${STATS_SECTIONS.join(', ')}`,
          });
          return z.NEVER;
        }
        return STATS_SECTIONS.filter((s) => words.includes(s));
      }),
  })
  .strict();

export const statsReportSchema = z.object({
  localDate: z.string(),
  timeZone: z.string(),
  from: z.string(),
  to: z.string(),
  sections: z.array(z.enum(STATS_SECTIONS)),
  deliveries: z
    .object({
      total: z.number(),
      byStatus: z.record(z.string(), z.number()),
      byProvider: z.record(z.string(), z.number()),
      failovers: z.array(z.object({ provider: z.string(), at: z.string(), reason: z.string() })),
    })
    .optional(),
  mailouts: z
    .object({
      running: z.number(),
      finished: z.number(),
      sent: z.number(),
      failed: z.number(),
      expired: z.number(),
    })
    .optional(),
  sequences: z
    .object({
      sequences: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          sent: z.number(),
          replies: z.number(),
          bounces: z.number(),
          unsubscribes: z.number(),
        }),
      ),
      totals: z.object({
        sent: z.number(),
        replies: z.number(),
        bounces: z.number(),
        unsubscribes: z.number(),
      }),
    })
    .optional(),
  appointments: z.object({ booked: z.number(), cancelled: z.number(), upcomingToday: z.number() }).optional(),
  briefings: z
    .object({
      sent: z.number(),
      late: z.number(),
      skipped: z.number(),
      failed: z.number(),
      enrichmentHits: z.number(),
      enrichmentMisses: z.number(),
    })
    .optional(),
});

export const runResultSchema = z.object({
  local_date: z.string(),
  job_id: z.string(),
});
