import { z } from 'zod';
import { createRepSchema, repSchema, updateRepSchema } from '../../reps/rep.schemas.ts';
import type { RepService } from '../../reps/rep.service.ts';
import { type ApiRoute, route } from '../api-route.ts';
import { problemSchema } from '../openapi.ts';

const idParams = z.object({ id: z.uuid({ message: 'must be a rep id (UUID)' }) });
const listQuery = z.object({
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(200, 'must be at most 200').default(50),
  cursor: z.string().max(500).optional(),
});
const listResponse = z.object({ reps: z.array(repSchema), next_cursor: z.string().nullable() });
const problem = (description: string) => ({ description, schema: problemSchema });

export function repRoutes(reps: RepService): ApiRoute[] {
  const actor = (principalId: string) => ({ id: `api-key:${principalId}` });
  return [
    route(
      {
        method: 'get',
        path: '/v1/reps',
        scope: 'read',
        summary: 'List reps (ordered by name, cursor pagination)',
        tag: 'Reps',
        query: listQuery,
        responses: {
          200: { description: 'A page of reps', schema: listResponse },
          400: problem('Bad query'),
        },
      },
      async ({ query }) => ({ status: 200, body: await reps.list(query.limit, query.cursor) }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/reps',
        scope: 'admin',
        summary: 'Create a rep',
        tag: 'Reps',
        body: createRepSchema,
        responses: {
          201: { description: 'Created', schema: repSchema },
          400: problem('Invalid body; `errors` names each wrong field'),
          409: problem('Email or Slack user already used by another rep'),
        },
      },
      async ({ body, principal }) => ({ status: 201, body: await reps.create(body, actor(principal.id)) }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/reps/{id}',
        scope: 'read',
        summary: 'Get a rep',
        tag: 'Reps',
        params: idParams,
        responses: { 200: { description: 'The rep', schema: repSchema }, 404: problem('No such rep') },
      },
      async ({ params }) => ({ status: 200, body: await reps.get(params.id) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/reps/{id}',
        scope: 'admin',
        summary: 'Change some fields of a rep',
        tag: 'Reps',
        params: idParams,
        body: updateRepSchema,
        responses: {
          200: { description: 'The updated rep', schema: repSchema },
          400: problem('Invalid body'),
          404: problem('No such rep'),
          409: problem('Email or Slack user already used by another rep'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await reps.update(params.id, body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/reps/{id}',
        scope: 'admin',
        summary: 'Remove a rep',
        tag: 'Reps',
        params: idParams,
        responses: { 204: { description: 'Removed' }, 404: problem('No such rep') },
      },
      async ({ params, principal }) => {
        await reps.remove(params.id, actor(principal.id));
        return { status: 204 };
      },
    ),
  ];
}
