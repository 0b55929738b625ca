import type { Readable } from 'node:stream';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { type ApiRoute, mediaType, route } from '../http/api-route.ts';
import { problemSchema } from '../http/openapi.ts';
import type { Clock } from '../shared/time.ts';
import { parseContacts } from './contact-import.ts';
import { type SequenceRepository, toContact, toEnrollment, toMailbox } from './sequence.repository.ts';
import {
  contactSchema,
  createContactSchema,
  createMailboxSchema,
  createSequenceSchema,
  enrollmentSchema,
  enrollResultSchema,
  enrollSchema,
  mailboxSchema,
  sequenceSchema,
  updateContactSchema,
  updateMailboxSchema,
  updateSequenceSchema,
} from './sequence.schemas.ts';
import type { SequenceService } from './sequence.service.ts';

const bulkContactsSchema = z
  .object({
    csv: z.string().optional(),
    ndjson: z.string().optional(),
    contacts: z.array(z.unknown()).optional(),
  })
  .strict()
  .refine((b) => [b.csv, b.ndjson, b.contacts].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of csv, ndjson or contacts',
  });
/** Streamed bulk contacts (the server leaves these bodies unread for the handler). */
export const CONTACT_IMPORT_CONTENT_TYPES = ['text/csv', 'application/x-ndjson', 'application/ndjson'];
const bulkResultSchema = z.object({
  created: z.number(),
  existing: z.array(z.string()),
  existing_count: z.number(),
  rejected: z.number(),
  rejected_rows: z.array(z.object({ line: z.number(), field: z.string(), message: z.string() })),
});
const problem = (description: string) => ({ description, schema: problemSchema });
const idParams = (what: string) => z.object({ id: z.uuid({ message: `must be a ${what} id (UUID)` }) });
const enrollmentParams = z.object({
  id: z.uuid({ message: 'must be a sequence id (UUID)' }),
  enrollment_id: z.uuid({ message: 'must be an enrollment id (UUID)' }),
});
const page = z.object({
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(100),
  after: z.string().max(300).optional(),
});
const forecastSchema = z.object({
  sequence_id: z.uuid(),
  days: z.array(
    z.object({
      date: z.string(),
      mailboxes: z.array(
        z.object({ mailbox_id: z.uuid(), email: z.string(), planned: z.number(), capacity: z.number() }),
      ),
    }),
  ),
});

/** /v1/mailboxes, /v1/contacts, /v1/sequences (with steps, enrollments, forecast); scope `sequences`. */
export function sequenceRoutes(deps: {
  repo: SequenceRepository;
  service: SequenceService;
  clock: Clock;
}): ApiRoute[] {
  const { repo } = deps;
  const actor = (principalId: string) => `api-key:${principalId}`;
  const tag = 'Sequences';
  const scope = 'sequences' as const;
  return [
    // ---------- mailboxes
    route(
      {
        method: 'get',
        path: '/v1/mailboxes',
        scope,
        summary: 'List mailboxes',
        tag,
        responses: {
          200: { description: 'Mailboxes', schema: z.object({ mailboxes: z.array(mailboxSchema) }) },
        },
      },
      async () => ({ status: 200, body: { mailboxes: (await repo.listMailboxes()).map(toMailbox) } }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/mailboxes',
        scope,
        summary: 'Create a mailbox (daily_limit, optional warm-up)',
        tag,
        body: createMailboxSchema,
        responses: {
          201: { description: 'Created', schema: mailboxSchema },
          400: problem('Invalid body'),
          409: problem('Email already used'),
        },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: toMailbox(await repo.createMailbox(body, actor(principal.id), deps.clock.now())),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/mailboxes/{id}',
        scope,
        summary: 'Get a mailbox',
        tag,
        params: idParams('mailbox'),
        responses: {
          200: { description: 'The mailbox', schema: mailboxSchema },
          404: problem('No such mailbox'),
        },
      },
      async ({ params }) => ({ status: 200, body: toMailbox(await repo.getMailbox(params.id)) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/mailboxes/{id}',
        scope,
        summary: 'Change a mailbox (status active resumes a paused one)',
        tag,
        params: idParams('mailbox'),
        body: updateMailboxSchema,
        responses: {
          200: { description: 'The mailbox', schema: mailboxSchema },
          400: problem('Invalid body'),
          404: problem('No such mailbox'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: toMailbox(await repo.updateMailbox(params.id, body, actor(principal.id), deps.clock.now())),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/mailboxes/{id}',
        scope,
        summary: 'Remove a mailbox that no sequence uses',
        tag,
        params: idParams('mailbox'),
        responses: {
          204: { description: 'Removed' },
          404: problem('No such mailbox'),
          409: problem('In use'),
        },
      },
      async ({ params, principal }) => {
        await repo.deleteMailbox(params.id, actor(principal.id));
        return { status: 204 };
      },
    ),
    // ---------- contacts
    route(
      {
        method: 'get',
        path: '/v1/contacts',
        scope,
        summary: 'List contacts (by email; `after` = last email of the previous page)',
        tag,
        query: page,
        responses: {
          200: { description: 'Contacts', schema: z.object({ contacts: z.array(contactSchema) }) },
        },
      },
      async ({ query }) => ({
        status: 200,
        body: { contacts: (await repo.listContacts(query.limit, query.after)).map(toContact) },
      }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/contacts',
        scope,
        summary: 'Create a contact',
        tag,
        body: createContactSchema,
        responses: {
          201: { description: 'Created', schema: contactSchema },
          400: problem('Invalid body'),
          409: problem('Email already used'),
        },
      },
      async ({ body, principal }) => {
        const result = await repo.createContacts([body], actor(principal.id));
        const row = result.created[0];
        if (!row) {
          throw new AppError('conflict', `A contact ${body.email} already exists`, {
            fields: [{ field: 'email', message: 'is already used by another contact' }],
          });
        }
        return { status: 201, body: toContact(row) };
      },
    ),
    route(
      {
        method: 'post',
        path: '/v1/contacts/bulk',
        scope,
        summary:
          'Create contacts in bulk, streamed: a `text/csv` body (header row with email, first_name, last_name, company, time_zone; other columns go into fields) or an `application/x-ndjson` body (one contact object per line), any size. Each row is checked on its own: a bad row is stored not at all and listed in `rejected_rows` with its line and field; the good rows are stored. The older JSON form `{"csv"|"ndjson"|"contacts": …}` (up to 10,000) still works and stays all-or-nothing: any bad row is a 400 naming it, and nothing is stored.',
        tag,
        body: bulkContactsSchema,
        bodyLimit: 10 * 1024 * 1024,
        rawBody: {
          contentTypes: CONTACT_IMPORT_CONTENT_TYPES,
          examples: {
            'text/csv':
              'email,first_name,last_name,company,time_zone,plan\nana@example.com,Ana,Diaz,"Acme, Inc",Europe/Madrid,pro\n',
            'application/x-ndjson':
              '{"email":"ana@example.com","first_name":"Ana","fields":{"plan":"pro"}}\n',
            'application/ndjson': '{"email":"ana@example.com","first_name":"Ana","fields":{"plan":"pro"}}\n',
          },
        },
        responses: {
          200: {
            description:
              'Counts: created; emails already stored (listed up to 100, not overwritten) and their count; rejected rows and the first 100 problems (line, field, message)',
            schema: bulkResultSchema,
          },
          400: problem(
            'JSON form: a row is wrong (`errors` names its line and field). Streamed: no email column in the CSV header, or no contacts at all',
          ),
        },
      },
      async ({ body, principal, request }) => {
        const type = mediaType(request);
        if (CONTACT_IMPORT_CONTENT_TYPES.includes(type)) {
          const format = type === 'text/csv' ? 'csv' : 'ndjson';
          return {
            status: 200,
            body: await repo.importContacts(request.body as Readable, format, actor(principal.id)),
          };
        }
        const contacts = parseContacts(body);
        const result = await repo.createContacts(contacts, actor(principal.id));
        return {
          status: 200,
          body: {
            created: result.created.length,
            existing: result.existing,
            existing_count: result.existing.length,
            rejected: 0,
            rejected_rows: [],
          },
        };
      },
    ),
    route(
      {
        method: 'get',
        path: '/v1/contacts/{id}',
        scope,
        summary: 'Get a contact',
        tag,
        params: idParams('contact'),
        responses: {
          200: { description: 'The contact', schema: contactSchema },
          404: problem('No such contact'),
        },
      },
      async ({ params }) => ({ status: 200, body: toContact(await repo.getContact(params.id)) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/contacts/{id}',
        scope,
        summary: 'Change a contact',
        tag,
        params: idParams('contact'),
        body: updateContactSchema,
        responses: {
          200: { description: 'The contact', schema: contactSchema },
          400: problem('Invalid body'),
          404: problem('No such contact'),
          409: problem('Email already used'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: toContact(await repo.updateContact(params.id, body, actor(principal.id))),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/contacts/{id}',
        scope,
        summary: 'Remove a contact (and its enrollments)',
        tag,
        params: idParams('contact'),
        responses: { 204: { description: 'Removed' }, 404: problem('No such contact') },
      },
      async ({ params, principal }) => {
        await repo.deleteContact(params.id, actor(principal.id));
        return { status: 204 };
      },
    ),
    // ---------- sequences
    route(
      {
        method: 'get',
        path: '/v1/sequences',
        scope,
        summary: 'List sequences with their steps',
        tag,
        responses: {
          200: { description: 'Sequences', schema: z.object({ sequences: z.array(sequenceSchema) }) },
        },
      },
      async () => ({ status: 200, body: { sequences: await repo.listSequences() } }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/sequences',
        scope,
        summary: 'Create a sequence (steps and mailbox_ids may be given inline)',
        tag,
        body: createSequenceSchema,
        responses: { 201: { description: 'Created', schema: sequenceSchema }, 400: problem('Invalid body') },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: await repo.createSequence(body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/sequences/{id}',
        scope,
        summary: 'Get a sequence with its steps',
        tag,
        params: idParams('sequence'),
        responses: {
          200: { description: 'The sequence', schema: sequenceSchema },
          404: problem('No such sequence'),
        },
      },
      async ({ params }) => ({ status: 200, body: await repo.getSequence(params.id) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/sequences/{id}',
        scope,
        summary: 'Change a sequence (steps given replace all steps; status paused/active pauses/resumes)',
        tag,
        params: idParams('sequence'),
        body: updateSequenceSchema,
        responses: {
          200: { description: 'The sequence', schema: sequenceSchema },
          400: problem('Invalid body'),
          404: problem('No such sequence'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await repo.updateSequence(params.id, body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/sequences/{id}',
        scope,
        summary: 'Remove a sequence, its steps and enrollments (sent messages stay)',
        tag,
        params: idParams('sequence'),
        responses: { 204: { description: 'Removed' }, 404: problem('No such sequence') },
      },
      async ({ params, principal }) => {
        await repo.deleteSequence(params.id, actor(principal.id));
        return { status: 204 };
      },
    ),
    route(
      {
        method: 'get',
        path: '/v1/sequences/{id}/forecast',
        scope,
        summary:
          'Planned sends per mailbox per day (the local day in the sequence time zone; `date` is that local date) for the next 7 days under the current caps',
        tag,
        params: idParams('sequence'),
        responses: {
          200: { description: 'Forecast', schema: forecastSchema },
          404: problem('No such sequence'),
        },
      },
      async ({ params }) => {
        await repo.getSequence(params.id);
        return {
          status: 200,
          body: { sequence_id: params.id, days: await deps.service.forecast(params.id) },
        };
      },
    ),
    // ---------- enrollments
    route(
      {
        method: 'post',
        path: '/v1/sequences/{id}/enrollments',
        scope,
        summary: 'Enroll contacts in bulk (one active enrollment per contact and sequence)',
        tag,
        params: idParams('sequence'),
        body: enrollSchema,
        responses: {
          200: { description: 'What was enrolled, already enrolled, unknown', schema: enrollResultSchema },
          400: problem('Invalid body'),
          404: problem('No such sequence'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await repo.enroll(params.id, body.contact_ids, deps.clock.now(), actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/sequences/{id}/enrollments',
        scope,
        summary: 'List enrollments (`after` = last id of the previous page)',
        tag,
        params: idParams('sequence'),
        query: page,
        responses: {
          200: { description: 'Enrollments', schema: z.object({ enrollments: z.array(enrollmentSchema) }) },
        },
      },
      async ({ params, query }) => ({
        status: 200,
        body: {
          enrollments: (await repo.listEnrollments(params.id, query.limit, query.after)).map(toEnrollment),
        },
      }),
    ),
    ...(['pause', 'resume'] as const).map((action) =>
      route(
        {
          method: 'post',
          path: `/v1/sequences/{id}/enrollments/{enrollment_id}/${action}`,
          scope,
          summary: `${action === 'pause' ? 'Pause' : 'Resume'} one enrollment`,
          tag,
          params: enrollmentParams,
          responses: {
            200: { description: 'The enrollment', schema: enrollmentSchema },
            404: problem('No such enrollment'),
            409: problem(`Not ${action === 'pause' ? 'active' : 'paused'}`),
          },
        },
        async ({ params, principal }) => ({
          status: 200,
          body: toEnrollment(
            await repo.setEnrollmentStatus(
              params.id,
              params.enrollment_id,
              action === 'pause' ? 'active' : 'paused',
              action === 'pause' ? 'paused' : 'active',
              actor(principal.id),
            ),
          ),
        }),
      ),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/sequences/{id}/enrollments/{enrollment_id}',
        scope,
        summary: 'Remove one enrollment (nothing more is sent to it)',
        tag,
        params: enrollmentParams,
        responses: { 204: { description: 'Removed' }, 404: problem('No such enrollment') },
      },
      async ({ params, principal }) => {
        await repo.removeEnrollment(params.id, params.enrollment_id, actor(principal.id));
        return { status: 204 };
      },
    ),
  ];
}
