import type { Readable } from 'node:stream';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { type ApiRoute, route } from '../http/api-route.ts';
import { problemSchema } from '../http/openapi.ts';
import {
  createCustomerSchema,
  customerListQuery,
  customerSchema,
  importResultSchema,
  updateCustomerSchema,
} from './customer.schemas.ts';
import type { CustomerService } from './customer.service.ts';

export const idParams = z.object({
  id: z.coerce
    .number({ message: 'must be a numeric id' })
    .int('must be a numeric id')
    .positive('must be a numeric id'),
});
const problem = (description: string) => ({ description, schema: problemSchema });
const listResponse = z
  .object({ customers: z.array(customerSchema), next_cursor: z.string().nullable() })
  .meta({ example: { customers: [], next_cursor: '1042' } });

/** Content types the import accepts as a stream (the HTTP server leaves their bodies unread). */
export const IMPORT_CONTENT_TYPES = ['text/csv', 'application/x-ndjson', 'application/ndjson'];

export function customerRoutes(customers: CustomerService): ApiRoute[] {
  const actor = (principalId: string) => `api-key:${principalId}`;
  return [
    route(
      {
        method: 'get',
        scope: 'customers',
        path: '/v1/customers',
        summary: 'List customers (filter by operator code, tag, time zone; cursor pagination by id)',
        tag: 'Customers',
        query: customerListQuery,
        responses: {
          200: { description: 'A page of customers', schema: listResponse },
          400: problem('Bad query'),
        },
      },
      async ({ query }) => ({ status: 200, body: await customers.list(query) }),
    ),
    route(
      {
        method: 'post',
        scope: 'customers',
        path: '/v1/customers',
        summary: 'Create a customer (phone normalized to 7XXXXXXXXXX; operator_code defaults to digits 2-4)',
        tag: 'Customers',
        body: createCustomerSchema,
        responses: {
          201: { description: 'Created', schema: customerSchema },
          400: problem('Invalid body; `errors` names each wrong field'),
          409: problem('Phone already used by another customer'),
        },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: await customers.create(body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'post',
        scope: 'customers',
        path: '/v1/customers/import',
        summary:
          'Bulk upsert by phone from a CSV (header phone,operator_code,tag,time_zone) or NDJSON stream; bad rows are reported by line and skipped',
        tag: 'Customers',
        rawBody: {
          contentTypes: IMPORT_CONTENT_TYPES,
          example: 'phone,operator_code,tag,time_zone\n+7 916 123-45-67,,vip,Europe/Moscow\n',
        },
        responses: {
          200: { description: 'Counts and the first rejected rows', schema: importResultSchema },
          400: problem('Content-Type is not text/csv or application/x-ndjson'),
        },
      },
      async ({ request, principal }) => {
        const type =
          String(request.headers['content-type'] ?? '')
            .split(';')[0]
            ?.trim()
            .toLowerCase() ?? '';
        if (!IMPORT_CONTENT_TYPES.includes(type)) {
          throw AppError.validation([
            { field: 'content-type', message: 'must be text/csv or application/x-ndjson' },
          ]);
        }
        const format = type === 'text/csv' ? 'csv' : 'ndjson';
        return {
          status: 200,
          body: await customers.import(request.body as Readable, format, actor(principal.id)),
        };
      },
    ),
    route(
      {
        method: 'get',
        scope: 'customers',
        path: '/v1/customers/{id}',
        summary: 'Get a customer',
        tag: 'Customers',
        params: idParams,
        responses: {
          200: { description: 'The customer', schema: customerSchema },
          404: problem('No such customer'),
        },
      },
      async ({ params }) => ({ status: 200, body: await customers.get(params.id) }),
    ),
    route(
      {
        method: 'patch',
        scope: 'customers',
        path: '/v1/customers/{id}',
        summary: 'Change some fields of a customer',
        tag: 'Customers',
        params: idParams,
        body: updateCustomerSchema,
        responses: {
          200: { description: 'The updated customer', schema: customerSchema },
          400: problem('Invalid body'),
          404: problem('No such customer'),
          409: problem('Phone already used by another customer'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await customers.update(params.id, body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'delete',
        scope: 'customers',
        path: '/v1/customers/{id}',
        summary: 'Delete a customer; their unsent mailout messages are cancelled and never sent',
        tag: 'Customers',
        params: idParams,
        responses: { 204: { description: 'Deleted' }, 404: problem('No such customer') },
      },
      async ({ params, principal }) => {
        await customers.remove(params.id, actor(principal.id));
        return { status: 204 };
      },
    ),
  ];
}
