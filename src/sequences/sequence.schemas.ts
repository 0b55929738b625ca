import { z } from 'zod';
import { headerText, lowercaseEmail, typeMessage } from '../shared/text.ts';
import { isValidTimeZone, LOCAL_TIME } from '../shared/time.ts';
import { ENROLLMENT_STATUSES, MAILBOX_STATUSES, SEQUENCE_STATUSES } from './sequence.tables.ts';
import { templateProblems } from './sequence-template.ts';

export const MAX_STEPS = 20;

const email = lowercaseEmail;

const timeZone = z
  .string({ error: typeMessage('a string') })
  .trim()
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Europe/Paris or America/New_York' });

const localTime = z.string().regex(LOCAL_TIME, 'must be a 24-hour local time HH:MM such as 08:00');
const limit = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(100_000, 'must be at most 100000');

const template = (max: number) =>
  z
    .string({ error: typeMessage('a string') })
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .superRefine((value, ctx) => {
      for (const message of templateProblems(value)) ctx.addIssue({ code: 'custom', message });
    });

// ---------- mailboxes
const mailboxFields = {
  email,
  display_name: headerText({ max: 200 }),
  daily_limit: limit,
  warmup: z
    .object({
      start_limit: limit,
      daily_increase: z.number().int('must be a whole number').min(1, 'must be at least 1').max(10_000),
    })
    .strict()
    .nullable(),
  status: z.enum(MAILBOX_STATUSES, { message: 'must be active or paused' }),
};
export const createMailboxSchema = z
  .object({
    ...mailboxFields,
    display_name: mailboxFields.display_name.default(''),
    warmup: mailboxFields.warmup.optional(),
    status: mailboxFields.status.default('active'),
  })
  .strict();
export const updateMailboxSchema = z.object(mailboxFields).partial().strict();
export const mailboxSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  display_name: z.string(),
  daily_limit: z.number(),
  warmup: z
    .object({ start_limit: z.number(), daily_increase: z.number(), started_at: z.string() })
    .nullable(),
  status: z.enum(MAILBOX_STATUSES),
  paused_reason: z.string().nullable(),
  created_at: z.string(),
});
export type CreateMailbox = z.output<typeof createMailboxSchema>;
export type UpdateMailbox = z.output<typeof updateMailboxSchema>;

// ---------- contacts
const name = z
  .string({ error: typeMessage('a string') })
  .trim()
  .max(200, 'must be at most 200 characters');
const contactFields = {
  email,
  first_name: name,
  last_name: name,
  company: name,
  time_zone: timeZone.nullable(),
  fields: z.record(
    z.string().regex(/^[A-Za-z_][\w-]*$/, 'field names are letters, digits, _ and -'),
    z.unknown(),
  ),
};
export const createContactSchema = z
  .object({
    ...contactFields,
    first_name: name.default(''),
    last_name: name.default(''),
    company: name.default(''),
    time_zone: contactFields.time_zone.optional(),
    fields: contactFields.fields.default({}),
  })
  .strict();
export const updateContactSchema = z.object(contactFields).partial().strict();
export const contactSchema = z.object({
  id: z.uuid(),
  email: z.string(),
  first_name: z.string(),
  last_name: z.string(),
  company: z.string(),
  time_zone: z.string().nullable(),
  fields: z.record(z.string(), z.unknown()),
  created_at: z.string(),
});
export type CreateContact = z.output<typeof createContactSchema>;
export type UpdateContact = z.output<typeof updateContactSchema>;

// ---------- sequences
export const stepInputSchema = z
  .object({
    delay_days: z
      .number()
      .int('must be a whole number')
      .min(0, 'must be 0 or more')
      .max(365, 'must be at most 365'),
    subject: template(998),
    body: template(50_000),
  })
  .strict();
const windowSchema = z
  .object({ from: localTime, to: localTime })
  .strict()
  .refine((w) => w.from !== w.to, { message: 'from and to must differ', path: ['to'] });
const sequenceFields = {
  name: headerText({ min: 1, max: 200 }),
  window: windowSchema,
  days: z
    .array(z.number().int().min(1, 'must be an ISO weekday 1-7').max(7, 'must be an ISO weekday 1-7'))
    .min(1, 'must have at least one day')
    .refine((d) => new Set(d).size === d.length, 'must not repeat a day'),
  time_zone: timeZone,
  status: z.enum(SEQUENCE_STATUSES, { message: 'must be one of draft, active, paused' }),
  mailbox_ids: z.array(z.uuid({ message: 'must be mailbox ids (UUID)' })).max(500),
  steps: z.array(stepInputSchema).max(MAX_STEPS, `must have at most ${MAX_STEPS} steps`),
  owner_slack_user_id: z
    .string()
    .regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user id such as U012ABCDEF')
    .nullable(),
};
export const createSequenceSchema = z
  .object({
    ...sequenceFields,
    days: sequenceFields.days.default([1, 2, 3, 4, 5]),
    status: sequenceFields.status.default('draft'),
    mailbox_ids: sequenceFields.mailbox_ids.default([]),
    steps: sequenceFields.steps.default([]),
    owner_slack_user_id: sequenceFields.owner_slack_user_id.optional(),
  })
  .strict();
export const updateSequenceSchema = z.object(sequenceFields).partial().strict();
export type CreateSequence = z.output<typeof createSequenceSchema>;
export type UpdateSequence = z.output<typeof updateSequenceSchema>;
export type StepInput = z.output<typeof stepInputSchema>;

export const stepSchema = z.object({
  step: z.number(),
  delay_days: z.number(),
  subject: z.string(),
  body: z.string(),
});
export const sequenceSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  window: z.object({ from: z.string(), to: z.string() }),
  days: z.array(z.number()),
  time_zone: z.string(),
  status: z.enum(SEQUENCE_STATUSES),
  mailbox_ids: z.array(z.string()),
  steps: z.array(stepSchema),
  owner_slack_user_id: z.string().nullable(),
  created_at: z.string(),
});

// ---------- enrollments
export const enrollSchema = z
  .object({
    contact_ids: z
      .array(z.uuid({ message: 'must be contact ids (UUID)' }))
      .min(1, 'must have at least one contact id')
      .max(10_000, 'must have at most 10000 contact ids'),
  })
  .strict();
export const enrollmentSchema = z.object({
  id: z.uuid(),
  sequence_id: z.uuid(),
  contact_id: z.uuid(),
  mailbox_id: z.uuid(),
  current_step: z.number(),
  last_sent_at: z.string().nullable(),
  next_send_at: z.string().nullable(),
  planned_at: z.string().nullable(),
  status: z.enum(ENROLLMENT_STATUSES),
  stopped_reason: z.string().nullable(),
});
export const enrollResultSchema = z.object({
  enrolled: z.array(enrollmentSchema),
  already_enrolled: z.array(z.uuid()),
  unknown_contact_ids: z.array(z.uuid()),
});
