import { z } from 'zod';
import type { ApiKeyPrincipal } from '../../api-keys/api-key.service.ts';
import { hasScope } from '../../api-keys/scopes.ts';
import type { DeliveryService } from '../../delivery/delivery.service.ts';
import {
  acceptedSchema,
  listMessagesQuery,
  messageSchema,
  messageWithEventsSchema,
  redriveSchema,
  sendMessageSchema,
} from '../../delivery/message.schemas.ts';
import { AppError } from '../../errors.ts';
import { type ApiRoute, route } from '../api-route.ts';
import { problemSchema } from '../openapi.ts';

const idParams = z.object({ id: z.uuid({ message: 'must be a message id (UUID)' }) });
const emailParams = z.object({
  email: z
    .string()
    .trim()
    .max(254)
    .pipe(z.email({ message: 'must be an email address' })),
});
const problem = (description: string) => ({ description, schema: problemSchema });
const listResponse = z.object({ messages: z.array(messageSchema), next_cursor: z.string().nullable() });
const suppressionSchema = z.object({
  email: z.string(),
  reason: z.string(),
  source: z.string(),
  message_id: z.string().nullable(),
  created_at: z.string(),
});
const addSuppressionSchema = z
  .object({
    email: z
      .string()
      .trim()
      .max(254)
      .pipe(z.email({ message: 'must be an email address' })),
    reason: z.string().trim().min(1).max(200).default('manual'),
  })
  .strict();

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * POST /v1/messages takes attachments up to MESSAGE_ATTACHMENTS_MAX_BYTES decoded, i.e. 4/3 of
 * that as base64 in JSON, on top of the ordinary body limit for the rest of the message.
 */
export function messagesBodyLimit(bodyLimit: number, attachmentsMaxBytes: number): number {
  return bodyLimit + Math.ceil(attachmentsMaxBytes / 3) * 4;
}

export function messageRoutes(
  delivery: DeliveryService,
  limits: { bodyLimit: number; attachmentsMaxBytes: number },
): ApiRoute[] {
  const actor = (principalId: string) => ({ id: `api-key:${principalId}` });
  // A key sees (and cancels) only the messages it sent, unless it may read all of them.
  const owner = (principal: ApiKeyPrincipal) =>
    hasScope(principal.scopes, 'read:all') ? undefined : principal.id;
  return [
    route(
      {
        method: 'post',
        path: '/v1/messages',
        scope: 'send',
        summary:
          'Accept an email for delivery. Send the same Idempotency-Key header with the same body to get the same message back.',
        tag: 'Messages',
        body: sendMessageSchema,
        bodyLimit: messagesBodyLimit(limits.bodyLimit, limits.attachmentsMaxBytes),
        responses: {
          202: { description: 'Accepted: stored, and queued for send_at', schema: acceptedSchema },
          400: problem(
            'Invalid body; `errors` names each wrong field (a header not on the allow-list, CR/LF in a header value, bad base64, ...)',
          ),
          409: problem('Idempotency-Key already used with a different body'),
          413: problem(
            'Attachments over MESSAGE_ATTACHMENTS_MAX_BYTES (decoded), or the body over API_BODY_LIMIT_BYTES plus room for that much base64',
          ),
          429: problem('Too many requests for this API key; see Retry-After'),
        },
      },
      async ({ body, principal, request }) => {
        const header = request.headers['idempotency-key'];
        const idempotencyKey = Array.isArray(header) ? header[0] : header;
        if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
          throw AppError.validation([
            { field: 'Idempotency-Key', message: 'must be 1-255 printable ASCII characters without spaces' },
          ]);
        }
        const accepted = await delivery.accept(body, { apiKeyId: principal.id, idempotencyKey });
        return {
          status: 202,
          body: { id: accepted.id, status: accepted.status },
          headers: accepted.replayed ? { 'idempotent-replayed': 'true' } : undefined,
        };
      },
    ),
    route(
      {
        method: 'get',
        path: '/v1/messages',
        scope: 'read',
        summary: 'List messages, newest first, filtered by status, tag and creation time (cursor pagination)',
        tag: 'Messages',
        query: listMessagesQuery,
        responses: {
          200: { description: 'A page of messages', schema: listResponse },
          400: problem('Bad query'),
        },
      },
      async ({ query, principal }) => {
        const { limit, cursor, ...filter } = query;
        return { status: 200, body: await delivery.list(filter, limit, cursor, owner(principal)) };
      },
    ),
    route(
      {
        method: 'get',
        path: '/v1/messages/{id}',
        scope: 'read',
        summary:
          'A message: status, headers, Message-ID (message_id_header), attachments (metadata, not content) and its whole event trail in order',
        tag: 'Messages',
        params: idParams,
        responses: {
          200: { description: 'The message with events', schema: messageWithEventsSchema },
          404: problem('No such message, or another key sent it and this key lacks read:all'),
        },
      },
      async ({ params, principal }) => ({
        status: 200,
        body: await delivery.get(params.id, owner(principal)),
      }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/messages/{id}/cancel',
        scope: 'send',
        summary: 'Cancel a message that has not started sending',
        tag: 'Messages',
        params: idParams,
        responses: {
          200: { description: 'Cancelled', schema: messageSchema },
          404: problem('No such message, or another key sent it and this key lacks read:all'),
          409: problem('Already sending, sent or otherwise final'),
        },
      },
      async ({ params, principal }) => ({
        status: 200,
        body: await delivery.cancel(params.id, actor(principal.id), owner(principal)),
      }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/messages/redrive',
        scope: 'admin',
        summary: 'Re-queue failed (or deferred) messages matching a filter; audit-logged',
        tag: 'Messages',
        body: redriveSchema,
        responses: {
          200: {
            description: 'How many were re-queued',
            schema: z.object({ requeued: z.number().int(), ids: z.array(z.string()) }),
          },
          400: problem('Invalid filter'),
        },
      },
      async ({ body, principal }) => ({
        status: 200,
        body: await delivery.redrive(body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/suppressions/{email}',
        scope: 'read',
        summary: 'Whether an address is suppressed, and why',
        tag: 'Suppressions',
        params: emailParams,
        responses: {
          200: { description: 'The suppression', schema: suppressionSchema },
          404: problem('Not suppressed'),
        },
      },
      async ({ params }) => ({ status: 200, body: await delivery.getSuppression(params.email) }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/suppressions/{email}',
        scope: 'admin',
        summary: 'Allow sending to an address again; audit-logged',
        tag: 'Suppressions',
        params: emailParams,
        responses: { 204: { description: 'Removed' }, 404: problem('Not suppressed') },
      },
      async ({ params, principal }) => {
        await delivery.deleteSuppression(params.email, actor(principal.id));
        return { status: 204 };
      },
    ),
    route(
      {
        method: 'post',
        path: '/v1/suppressions',
        scope: 'send',
        summary: 'Suppress an address by hand; audit-logged',
        tag: 'Suppressions',
        body: addSuppressionSchema,
        responses: { 204: { description: 'Suppressed' }, 400: problem('Invalid body') },
      },
      async ({ body, principal }) => {
        await delivery.addSuppression(body.email, body.reason, actor(principal.id));
        return { status: 204 };
      },
    ),
  ];
}
