import { z } from 'zod';
import { headerText, lowercaseEmail, typeMessage } from '../shared/text.ts';
import { isValidTimeZone, LOCAL_TIME } from '../shared/time.ts';

export const REP_ROLES = ['rep', 'manager', 'admin'] as const;
export const CALENDAR_SOURCES = ['google', 'microsoft', 'ics'] as const;

export const repRoleSchema = z.enum(REP_ROLES, { message: 'must be one of rep, manager, admin' });
export const calendarSourceSchema = z.enum(CALENDAR_SOURCES, {
  message: 'must be one of google, microsoft, ics',
});

const email = lowercaseEmail;

const timeZone = z
  .string({ error: typeMessage('a string') })
  .trim()
  .refine(isValidTimeZone, { message: 'must be an IANA time zone such as Europe/Paris or America/New_York' });

const localTime = z.string().regex(LOCAL_TIME, 'must be a 24-hour local time HH:MM such as 08:00');

const slackUserId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user id such as U012ABCDEF');

const repFields = {
  // A rep's name is the display name of their briefing's To: header.
  name: headerText({ min: 1, max: 120 }),
  email,
  time_zone: timeZone,
  slack_user_id: slackUserId.nullable(),
  briefing_time: localTime,
  prep_time: localTime,
  calendar_source: calendarSourceSchema,
  role: repRoleSchema,
  slack_dm: z.boolean(),
  empty_briefings: z.boolean(),
};

export const createRepSchema = z
  .object({
    ...repFields,
    slack_user_id: repFields.slack_user_id.optional(),
    briefing_time: localTime.default('08:00'),
    prep_time: localTime.default('05:00'),
    calendar_source: calendarSourceSchema.default('google'),
    role: repRoleSchema.default('rep'),
    slack_dm: z.boolean().default(true),
    empty_briefings: z.boolean().default(false),
  })
  .strict();

// Built from the bare fields, not createRepSchema.partial(): zod 4 applies defaults inside optional,
// which would silently reset omitted fields on PATCH.
export const updateRepSchema = z
  .object(repFields)
  .partial()
  .strict()
  .refine((value) => Object.keys(value).length > 0, { message: 'must change at least one field' });

export type CreateRepInput = z.output<typeof createRepSchema>;
export type UpdateRepInput = z.output<typeof updateRepSchema>;

export const repSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  email: z.string(),
  time_zone: z.string(),
  slack_user_id: z.string().nullable(),
  briefing_time: z.string(),
  prep_time: z.string(),
  calendar_source: calendarSourceSchema,
  role: repRoleSchema,
  slack_dm: z.boolean(),
  empty_briefings: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});

export type RepView = z.infer<typeof repSchema>;
