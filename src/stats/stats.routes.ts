import { z } from 'zod';
import { type ApiRoute, route } from '../http/api-route.ts';
import { problemSchema } from '../http/openapi.ts';
import {
  createStatsChannelSchema,
  createStatsRecipientSchema,
  runResultSchema,
  statsChannelSchema,
  statsQuerySchema,
  statsRecipientSchema,
  statsReportSchema,
  updateStatsChannelSchema,
  updateStatsRecipientSchema,
} from './stats.schemas.ts';
import { type StatsService, toApiChannel, toApiRecipient } from './stats.service.ts';

const idParams = (what: string) => z.object({ id: z.uuid({ message: `must be ${what} id (UUID)` }) });
const problem = (description: string) => ({ description, schema: problemSchema });
/** Stats configuration is workspace-wide: admin keys only. */
const SCOPE = 'admin' as const;
const Tag = 'Daily stats';

export function statsRoutes(stats: StatsService): ApiRoute[] {
  const actor = (principalId: string) => ({ id: `api-key:${principalId}` });
  return [
    route(
      {
        method: 'get',
        path: '/v1/stats',
        scope: SCOPE,
        summary: 'The numbers of one local day (what a stats post for the next day shows)',
        tag: Tag,
        query: statsQuerySchema,
        responses: {
          200: { description: 'The numbers', schema: statsReportSchema },
          400: problem('Invalid query'),
        },
      },
      async ({ query }) => ({
        status: 200,
        body: await stats.report(query.date, query.time_zone, query.sections),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/stats-channels',
        scope: SCOPE,
        summary: 'List stats channels',
        tag: Tag,
        responses: {
          200: { description: 'Stats channels', schema: z.object({ channels: z.array(statsChannelSchema) }) },
        },
      },
      async () => ({ status: 200, body: { channels: (await stats.listChannels()).map(toApiChannel) } }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/stats-channels',
        scope: SCOPE,
        summary:
          'Add a stats channel: the previous local day at `time` (default 09:00) in `time_zone`, with the chosen `sections`',
        tag: Tag,
        body: createStatsChannelSchema,
        responses: {
          201: { description: 'Created', schema: statsChannelSchema },
          400: problem('Invalid body, or Briefly cannot post to the channel (the reason is on channel_id)'),
          409: problem('The channel is already a stats channel'),
        },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: toApiChannel(await stats.createChannel(body, actor(principal.id))),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/stats-channels/{id}',
        scope: SCOPE,
        summary: 'Get a stats channel',
        tag: Tag,
        params: idParams('a stats channel'),
        responses: {
          200: { description: 'The channel', schema: statsChannelSchema },
          404: problem('No such channel'),
        },
      },
      async ({ params }) => ({ status: 200, body: toApiChannel(await stats.getChannel(params.id)) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/stats-channels/{id}',
        scope: SCOPE,
        summary:
          'Change a stats channel; any save re-checks the channel and resumes one paused because Slack refused it',
        tag: Tag,
        params: idParams('a stats channel'),
        body: updateStatsChannelSchema,
        responses: {
          200: { description: 'The channel', schema: statsChannelSchema },
          400: problem('Invalid body, or Briefly cannot post to the channel'),
          404: problem('No such channel'),
          409: problem('The new channel is already a stats channel'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: toApiChannel(await stats.updateChannel(params.id, body, actor(principal.id))),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/stats-channels/{id}',
        scope: SCOPE,
        summary: 'Stop posting daily stats to a channel',
        tag: Tag,
        params: idParams('a stats channel'),
        responses: { 204: { description: 'Removed' }, 404: problem('No such channel') },
      },
      async ({ params, principal }) => {
        await stats.deleteChannel(params.id, actor(principal.id));
        return { status: 204 };
      },
    ),
    route(
      {
        method: 'post',
        path: '/v1/stats-channels/{id}/run',
        scope: SCOPE,
        summary: "Post today's stats in the channel now, or edit today's post in place if it is out",
        tag: Tag,
        params: idParams('a stats channel'),
        responses: {
          202: { description: 'Queued', schema: runResultSchema },
          404: problem('No such channel'),
          409: problem('The channel is paused because Slack refused it'),
        },
      },
      async ({ params }) => ({ status: 202, body: await stats.runChannelNow(params.id) }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/stats-recipients',
        scope: SCOPE,
        summary: 'List the daily stats email recipients',
        tag: Tag,
        responses: {
          200: {
            description: 'Recipients',
            schema: z.object({ recipients: z.array(statsRecipientSchema) }),
          },
        },
      },
      async () => ({ status: 200, body: { recipients: (await stats.listRecipients()).map(toApiRecipient) } }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/stats-recipients',
        scope: SCOPE,
        summary: 'Email the daily stats to an address at `time` (default 09:00) in `time_zone`',
        tag: Tag,
        body: createStatsRecipientSchema,
        responses: {
          201: { description: 'Created', schema: statsRecipientSchema },
          400: problem('Invalid body'),
          409: problem('The address already gets the daily stats'),
        },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: toApiRecipient(await stats.createRecipient(body, actor(principal.id))),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/stats-recipients/{id}',
        scope: SCOPE,
        summary: 'Get a stats recipient',
        tag: Tag,
        params: idParams('a stats recipient'),
        responses: {
          200: { description: 'The recipient', schema: statsRecipientSchema },
          404: problem('No such recipient'),
        },
      },
      async ({ params }) => ({ status: 200, body: toApiRecipient(await stats.getRecipient(params.id)) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/stats-recipients/{id}',
        scope: SCOPE,
        summary: 'Change a stats recipient',
        tag: Tag,
        params: idParams('a stats recipient'),
        body: updateStatsRecipientSchema,
        responses: {
          200: { description: 'The recipient', schema: statsRecipientSchema },
          400: problem('Invalid body'),
          404: problem('No such recipient'),
          409: problem('The new address already gets the daily stats'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: toApiRecipient(await stats.updateRecipient(params.id, body, actor(principal.id))),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/stats-recipients/{id}',
        scope: SCOPE,
        summary: 'Stop emailing the daily stats to an address',
        tag: Tag,
        params: idParams('a stats recipient'),
        responses: { 204: { description: 'Removed' }, 404: problem('No such recipient') },
      },
      async ({ params, principal }) => {
        await stats.deleteRecipient(params.id, actor(principal.id));
        return { status: 204 };
      },
    ),
  ];
}
