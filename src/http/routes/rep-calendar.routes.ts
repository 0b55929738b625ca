import { z } from 'zod';
import type { CalendarConnectService, ConnectResult } from '../../calendars/calendar-connect.service.ts';
import { AppError } from '../../errors.ts';
import type { RepService } from '../../reps/rep.service.ts';
import { type ApiRoute, route } from '../api-route.ts';
import { problemSchema } from '../openapi.ts';

const idParams = z.object({ id: z.uuid({ message: 'must be a rep id (UUID)' }) });

export const connectCalendarSchema = z.discriminatedUnion(
  'source',
  [
    z
      .object({
        source: z.literal('ics'),
        url: z
          .string({ message: 'is required: the calendar feed address (https://…, webcal://…)' })
          .trim()
          .min(1, 'must not be empty')
          .max(2_000, 'must be at most 2000 characters'),
      })
      .strict(),
    z.object({ source: z.literal('google') }).strict(),
    z.object({ source: z.literal('microsoft') }).strict(),
  ],
  { message: 'source must be one of ics, google, microsoft' },
);

const connectResponse = z.object({
  rep_id: z.string(),
  source: z.enum(['google', 'microsoft', 'ics']),
  status: z
    .enum(['connected', 'authorize'])
    .describe('`authorize`: the rep must open `authorize_url` and consent; nothing is stored until then'),
  first_sync: z.enum(['queued']).nullable().describe('`queued`: the first sync runs in the background'),
  authorize_url: z.string().nullable(),
});

const calendarStatus = z.object({
  rep_id: z.string(),
  source: z.enum(['google', 'microsoft', 'ics']),
  status: z.enum(['active', 'broken']),
  broken_reason: z.string().nullable(),
  last_synced_at: z.string().nullable(),
});

const problem = (description: string) => ({ description, schema: problemSchema });

/**
 * A rep's calendar through the API, so reps can be provisioned without Slack. The feed URL is a
 * bearer secret: it is stored encrypted and never returned.
 */
export function repCalendarRoutes(deps: { reps: RepService; connect: CalendarConnectService }): ApiRoute[] {
  const loadRep = async (id: string) => {
    const rep = await deps.reps.findRow(id);
    if (!rep) throw AppError.notFound('Rep', id);
    return { id: rep.id, email: rep.email, timeZone: rep.timeZone };
  };
  return [
    route(
      {
        method: 'put',
        path: '/v1/reps/{id}/calendar',
        summary:
          "Connect a rep's calendar: an ICS feed URL (stored encrypted, first sync queued), or Google / Microsoft (service account / app-only: connected; per-rep OAuth: a consent link for the rep)",
        tag: 'Reps',
        params: idParams,
        body: connectCalendarSchema,
        responses: {
          202: { description: 'Connected; the first sync is queued', schema: connectResponse },
          200: { description: 'The rep must consent at `authorize_url`', schema: connectResponse },
          400: problem('Invalid body (`errors` names the field, e.g. `url`)'),
          404: problem('No such rep'),
          503: problem('That calendar vendor is not set up on this Briefly'),
        },
      },
      async ({ params, body, principal }) => {
        const rep = await loadRep(params.id);
        const actor = `api-key:${principal.id}`;
        let result: ConnectResult;
        if (body.source === 'ics') result = await deps.connect.connectIcs(rep, body.url, actor, 'queued');
        else if (body.source === 'google') result = await deps.connect.connectGoogle(rep, actor, 'queued');
        else result = await deps.connect.connectMicrosoft(rep, actor, 'queued');
        const authorize = result.kind === 'authorize';
        return {
          status: authorize ? 200 : 202,
          body: {
            rep_id: rep.id,
            source: body.source,
            status: authorize ? 'authorize' : 'connected',
            first_sync: result.kind === 'queued' ? 'queued' : null,
            authorize_url: result.kind === 'authorize' ? result.url : null,
          },
        };
      },
    ),
    route(
      {
        method: 'get',
        scope: 'read',
        path: '/v1/reps/{id}/calendar',
        summary:
          "A rep's calendar connection: source, status, why it broke, last sync (never its credentials)",
        tag: 'Reps',
        params: idParams,
        responses: {
          200: { description: 'The connection', schema: calendarStatus },
          404: problem('No such rep, or no calendar connected'),
        },
      },
      async ({ params }) => {
        const rep = await loadRep(params.id);
        const status = await deps.connect.status(rep.id);
        if (!status) throw new AppError('not_found', `Rep ${rep.id} has no calendar connected`);
        return {
          status: 200,
          body: {
            rep_id: rep.id,
            source: status.provider,
            status: status.status,
            broken_reason: status.brokenReason,
            last_synced_at: status.lastSyncedAt?.toISOString() ?? null,
          },
        };
      },
    ),
  ];
}
