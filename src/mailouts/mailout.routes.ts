import { z } from 'zod';
import { idParams } from '../customers/customer.routes.ts';
import { type ApiRoute, route } from '../http/api-route.ts';
import { problemSchema } from '../http/openapi.ts';
import {
  actorBodySchema,
  addMessageSchema,
  approveSchema,
  createMailoutSchema,
  mailoutListQuery,
  mailoutSchema,
  mailoutStatsSchema,
  messageDetailSchema,
  messageListQuery,
  messageSchema,
  previewQuery,
  previewSchema,
  rejectSchema,
  statsListSchema,
  updateMailoutSchema,
} from './mailout.schemas.ts';
import type { MailoutService } from './mailout.service.ts';

const problem = (description: string) => ({ description, schema: problemSchema });
const messageParams = idParams.extend({
  messageId: z.coerce.number({ message: 'must be a numeric id' }).int().positive('must be a numeric id'),
});
const listResponse = z.object({ mailouts: z.array(mailoutSchema), next_cursor: z.string().nullable() });
const messagesResponse = z.object({ messages: z.array(messageSchema), next_cursor: z.string().nullable() });
const TAG = 'Mailouts';

export function mailoutRoutes(mailouts: MailoutService): ApiRoute[] {
  const apiActor = (principalId: string) => `api-key:${principalId}`;
  const action = (
    path: string,
    summary: string,
    run: (id: number, actor: string) => Promise<unknown>,
  ): ApiRoute =>
    route(
      {
        method: 'post',
        scope: 'mailouts',
        path: `/v1/mailouts/{id}/${path}`,
        summary,
        tag: TAG,
        params: idParams,
        body: actorBodySchema.optional(),
        responses: {
          200: { description: 'The mailout after the change', schema: mailoutSchema },
          404: problem('No such mailout'),
          409: problem('Not allowed in the current status'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await run(params.id, body?.actor ?? apiActor(principal.id)),
      }),
    );

  return [
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts',
        summary: 'List mailouts (newest first, cursor pagination)',
        tag: TAG,
        query: mailoutListQuery,
        responses: {
          200: { description: 'A page of mailouts', schema: listResponse },
          400: problem('Bad query'),
        },
      },
      async ({ query }) => ({ status: 200, body: await mailouts.list(query) }),
    ),
    route(
      {
        method: 'post',
        scope: 'mailouts',
        path: '/v1/mailouts',
        summary:
          'Create a mailout; it goes to approval when the workspace has a manager, else it is scheduled at once (`submit: false` keeps a draft)',
        tag: TAG,
        body: createMailoutSchema,
        responses: {
          201: { description: 'Created', schema: mailoutSchema },
          400: problem('Invalid body; `errors` names each wrong field'),
        },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: await mailouts.create(body, apiActor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts/preview',
        summary: 'Audience preview: matching customers, by time zone, and how many are inside the window now',
        tag: TAG,
        query: previewQuery,
        responses: { 200: { description: 'The audience', schema: previewSchema }, 400: problem('Bad query') },
      },
      async ({ query }) => ({
        status: 200,
        body: await mailouts.preview(
          { operatorCodes: query.operator_codes, tags: query.tags },
          query.window_from && query.window_to ? { from: query.window_from, to: query.window_to } : null,
        ),
      }),
    ),
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts/stats',
        summary: 'Every mailout with its message counts by status',
        tag: TAG,
        responses: { 200: { description: 'Counts per mailout', schema: statsListSchema } },
      },
      async () => ({ status: 200, body: await mailouts.statsAll() }),
    ),
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}',
        summary: 'Get a mailout',
        tag: TAG,
        params: idParams,
        responses: {
          200: { description: 'The mailout', schema: mailoutSchema },
          404: problem('No such mailout'),
        },
      },
      async ({ params }) => ({ status: 200, body: await mailouts.get(params.id) }),
    ),
    route(
      {
        method: 'patch',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}',
        summary:
          'Edit a mailout: before it runs, edits bump the version and need approval again; while running or paused only ends_at and window change',
        tag: TAG,
        params: idParams,
        body: updateMailoutSchema,
        responses: {
          200: { description: 'The updated mailout', schema: mailoutSchema },
          400: problem('Invalid body'),
          404: problem('No such mailout'),
          409: problem('Not editable now, or the version changed'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await mailouts.update(params.id, body, apiActor(principal.id)),
      }),
    ),
    route(
      {
        method: 'delete',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}',
        summary:
          'Delete a mailout: sending stops at once, it leaves the lists; message records stay until retention',
        tag: TAG,
        params: idParams,
        responses: { 204: { description: 'Deleted' }, 404: problem('No such mailout') },
      },
      async ({ params, principal }) => {
        await mailouts.remove(params.id, apiActor(principal.id));
        return { status: 204 };
      },
    ),
    action('submit', 'Submit a draft (or rejected) mailout for approval', (id, actor) =>
      mailouts.submit(id, actor),
    ),
    route(
      {
        method: 'post',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}/approve',
        summary:
          'Approve a version (`approved_by` = Slack user id or rep id of a manager who is not the author; refused if the mailout changed since `version`)',
        tag: TAG,
        params: idParams,
        body: approveSchema,
        responses: {
          200: { description: 'Scheduled', schema: mailoutSchema },
          403: problem('Not a manager, or approving their own mailout'),
          404: problem('No such mailout'),
          409: problem('Not pending approval, or the version changed'),
        },
      },
      async ({ params, body }) => ({ status: 200, body: await mailouts.approve(params.id, body) }),
    ),
    route(
      {
        method: 'post',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}/reject',
        summary: 'Reject a mailout pending approval (`rejected_by` = a manager)',
        tag: TAG,
        params: idParams,
        body: rejectSchema,
        responses: {
          200: { description: 'Rejected', schema: mailoutSchema },
          403: problem('Not a manager'),
          404: problem('No such mailout'),
          409: problem('Not pending approval'),
        },
      },
      async ({ params, body }) => ({ status: 200, body: await mailouts.reject(params.id, body) }),
    ),
    action('pause', 'Pause a running mailout (returns once no request is in flight)', (id, actor) =>
      mailouts.pause(id, actor),
    ),
    action('resume', 'Resume a paused mailout', (id, actor) => mailouts.resume(id, actor)),
    action('cancel', 'Cancel a mailout; its unsent messages are cancelled', (id, actor) =>
      mailouts.cancel(id, actor),
    ),
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}/preview',
        summary: "Audience preview of a stored mailout's filter and window",
        tag: TAG,
        params: idParams,
        responses: {
          200: { description: 'The audience', schema: previewSchema },
          404: problem('No such mailout'),
        },
      },
      async ({ params }) => ({ status: 200, body: await mailouts.previewOf(params.id) }),
    ),
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}/stats',
        summary:
          'Statistics: counts by status, operator code, time zone, hour sent; error reasons; first/last send; throughput',
        tag: TAG,
        params: idParams,
        responses: {
          200: { description: 'Statistics', schema: mailoutStatsSchema },
          404: problem('No such mailout'),
        },
      },
      async ({ params }) => ({ status: 200, body: await mailouts.stats(params.id) }),
    ),
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}/messages',
        summary: 'Messages of a mailout (status filter, cursor pagination by id)',
        tag: TAG,
        params: idParams,
        query: messageListQuery,
        responses: {
          200: { description: 'A page of messages', schema: messagesResponse },
          404: problem('No such mailout'),
        },
      },
      async ({ params, query }) => ({ status: 200, body: await mailouts.messages(params.id, query) }),
    ),
    route(
      {
        method: 'post',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}/messages',
        summary: 'Add one customer to a scheduled or running mailout (same window and end rules)',
        tag: TAG,
        params: idParams,
        body: addMessageSchema,
        responses: {
          201: { description: 'Added', schema: z.object({ created: z.boolean(), message: messageSchema }) },
          200: {
            description: 'Already in the mailout',
            schema: z.object({ created: z.boolean(), message: messageSchema }),
          },
          404: problem('No such mailout or customer'),
          409: problem('The mailout is neither scheduled nor running'),
        },
      },
      async ({ params, body, principal }) => {
        const result = await mailouts.addMessage(params.id, body.customer_id, apiActor(principal.id));
        return { status: result.created ? 201 : 200, body: result };
      },
    ),
    route(
      {
        method: 'get',
        scope: 'mailouts',
        path: '/v1/mailouts/{id}/messages/{messageId}',
        summary: 'One message with every attempt (time, status code, latency, error)',
        tag: TAG,
        params: messageParams,
        responses: {
          200: { description: 'The message', schema: messageDetailSchema },
          404: problem('No such message'),
        },
      },
      async ({ params }) => ({ status: 200, body: await mailouts.message(params.id, params.messageId) }),
    ),
  ];
}
