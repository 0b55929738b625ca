import { z } from 'zod';
import { TEMPLATE_NAMES } from '../../emails/index.ts';
import { MESSAGE_PRIORITIES, MESSAGE_STATUSES } from '../db/schema.ts';
import { emailAddress, headerText } from '../shared/text.ts';

/** How far ahead send_at may be: a typo such as 9999 should be an error, not a message stuck forever. */
export const MAX_SEND_AHEAD_DAYS = 365;

import { checkAttachments, checkHeaders, HEADERS_RULE, isBase64 } from './message-content.ts';

const email = emailAddress;

/** "ana@example.com" or { email, name }. */
export const addressSchema = z.union(
  [
    email.transform((value) => ({ email: value })),
    z.object({
      email,
      name: headerText({ max: 200 }).optional(),
    }),
  ],
  { message: 'must be an email address or {"email", "name"}' },
);

const addressList = (max: number) => z.array(addressSchema).max(max, `must have at most ${max} addresses`);

export const messageStatusSchema = z.enum(MESSAGE_STATUSES, {
  message: `must be one of ${MESSAGE_STATUSES.join(', ')}`,
});
export const prioritySchema = z.enum(MESSAGE_PRIORITIES, { message: 'must be one of high, normal, low' });

const tag = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[\w.:-]+$/, 'may contain letters, digits, "_", "-", "." and ":" only');

const attachmentSchema = z
  .object({
    filename: z.string().max(255, 'must be at most 255 characters'),
    content_type: z.string().max(255, 'must be at most 255 characters'),
    content: z.string().refine(isBase64, 'must be base64 (the file’s bytes, standard alphabet, padded)'),
    disposition: z.enum(['attachment', 'inline'], { message: 'must be attachment or inline' }).optional(),
    content_id: z.string().optional(),
  })
  .strict()
  .meta({
    description:
      'A file. content is base64; content_type may carry parameters (text/calendar; method=REQUEST); inline parts need a content_id the HTML refers to as cid:<content_id>.',
  });

export const sendMessageSchema = z
  .object({
    to: addressList(50).min(1, 'must have at least one address'),
    cc: addressList(50).optional(),
    bcc: addressList(50).optional(),
    from: addressSchema.optional(),
    reply_to: addressSchema.optional(),
    subject: headerText({ min: 1, max: 998 }),
    html: z.string().min(1, 'must not be empty').optional(),
    text: z.string().min(1, 'must not be empty').optional(),
    template: z.enum(TEMPLATE_NAMES, { message: `must be one of ${TEMPLATE_NAMES.join(', ')}` }).optional(),
    data: z.record(z.string(), z.unknown()).optional(),
    priority: prioritySchema.default('normal'),
    send_at: z.iso
      .datetime({
        offset: true,
        message: 'must be an ISO 8601 date-time with offset, e.g. 2026-11-23T08:00:00Z',
      })
      .refine((value) => Date.parse(value) >= 0, 'must be in 1970 or later')
      .refine(
        (value) => Date.parse(value) <= Date.now() + MAX_SEND_AHEAD_DAYS * 86_400_000,
        `must be at most ${MAX_SEND_AHEAD_DAYS} days from now`,
      )
      .optional(),
    tags: z.array(tag).max(10, 'must have at most 10 tags').default([]),
    metadata: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .refine((value) => JSON.stringify(value).length <= 4_096, 'must be at most 4096 bytes of JSON')
      .default({}),
    headers: z
      .record(z.string(), z.string({ message: 'must be a string' }))
      .optional()
      .meta({ description: `Extra headers; ${HEADERS_RULE}; values on one line (no CR/LF)` }),
    attachments: z.array(attachmentSchema).optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const problems = [
      ...(body.headers ? checkHeaders(body.headers).problems : []),
      ...(body.attachments
        ? checkAttachments(
            body.attachments.map((a) => ({
              filename: a.filename,
              contentType: a.content_type,
              disposition: a.disposition,
              contentId: a.content_id,
            })),
          )
        : []),
    ];
    for (const problem of problems)
      ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    const hasBody = body.html !== undefined || body.text !== undefined;
    if (!hasBody && !body.template) {
      ctx.addIssue({ code: 'custom', path: ['html'], message: 'give html and/or text, or a template' });
    }
    if (hasBody && body.template) {
      ctx.addIssue({
        code: 'custom',
        path: ['template'],
        message: 'give either html/text or a template, not both',
      });
    }
    if (body.data !== undefined && !body.template) {
      ctx.addIssue({ code: 'custom', path: ['data'], message: 'is only allowed with template' });
    }
    const recipients = body.to.length + (body.cc?.length ?? 0) + (body.bcc?.length ?? 0);
    if (recipients > 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['to'],
        message: 'to, cc and bcc together must be at most 100 addresses',
      });
    }
  });

export type SendMessageInput = z.output<typeof sendMessageSchema>;

const storedAddress = z.object({ email: z.string(), name: z.string().optional() });

export const messageEventSchema = z.object({
  type: z.string(),
  at: z.string(),
  provider: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()),
});

export const messageSchema = z.object({
  id: z.uuid(),
  kind: z.string(),
  status: messageStatusSchema,
  priority: prioritySchema,
  from: storedAddress,
  to: z.array(storedAddress),
  cc: z.array(storedAddress),
  bcc: z.array(storedAddress),
  reply_to: storedAddress.nullable(),
  subject: z.string(),
  template: z.string().nullable(),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  send_at: z.string(),
  attempts: z.number().int(),
  provider: z.string().nullable(),
  provider_message_id: z.string().nullable(),
  last_error: z.string().nullable(),
  sent_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  headers: z.record(z.string(), z.string()),
  /** The Message-ID the recipient sees; replies quote it in In-Reply-To. */
  message_id_header: z.string().nullable(),
});

export const attachmentInfoSchema = z.object({
  filename: z.string(),
  content_type: z.string(),
  disposition: z.enum(['attachment', 'inline']),
  content_id: z.string().nullable(),
  size: z.number().int(),
});

export const messageWithEventsSchema = messageSchema.extend({
  attachments: z.array(attachmentInfoSchema),
  events: z.array(messageEventSchema),
});

export const acceptedSchema = z.object({ id: z.uuid(), status: messageStatusSchema });

/** PostgreSQL refuses year 0000 and Briefly has nothing before 1970: such a filter is a mistake. */
const isoDate = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time with offset' })
  .refine((value) => Date.parse(value) >= 0, 'must be in 1970 or later');

export const messageFilterSchema = z.object({
  status: messageStatusSchema.optional(),
  tag: tag.optional(),
  since: isoDate.optional(),
  until: isoDate.optional(),
});

export const listMessagesQuery = messageFilterSchema.extend({
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
  cursor: z.string().max(200).optional(),
});

export const redriveSchema = z
  .object({
    status: z.enum(['failed', 'deferred'], { message: 'must be failed or deferred' }).default('failed'),
    tag: tag.optional(),
    since: isoDate.optional(),
    until: isoDate.optional(),
    ids: z
      .array(z.uuid({ message: 'must be message ids (UUID)' }))
      .max(1_000)
      .optional(),
    limit: z.number().int().min(1).max(10_000).default(1_000),
  })
  .strict();

export type MessageFilter = z.output<typeof messageFilterSchema>;
export type RedriveInput = z.output<typeof redriveSchema>;
