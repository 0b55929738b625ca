import { z } from 'zod';
import type { BriefingService } from '../../briefings/briefing.service.ts';
import { type ApiRoute, route } from '../api-route.ts';
import { problemSchema } from '../openapi.ts';

const idParams = z.object({ id: z.uuid({ message: 'must be a rep id (UUID)' }) });
const listQuery = z.object({
  limit: z.coerce.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').default(30),
  before: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
    .optional(),
});
const briefingSchema = z.object({
  id: z.string(),
  local_date: z.string(),
  time_zone: z.string(),
  status: z.enum(['pending', 'prepared', 'scheduled', 'sent', 'empty', 'skipped', 'failed']),
  prepare_at: z.string(),
  deliver_at: z.string(),
  cutoff_at: z.string(),
  prepared_at: z.string().nullable(),
  meeting_count: z.number().nullable(),
  reason: z.string().nullable(),
  message_id: z.string().nullable(),
  message_status: z.string().nullable().describe('status of the email in the delivery layer'),
  content: z.record(z.string(), z.unknown()).nullable().describe('the briefing as rendered'),
});
const sendResponse = z.object({
  briefing_id: z.string(),
  status: z.string(),
  message_id: z.string().nullable(),
});
const problem = (description: string) => ({ description, schema: problemSchema });
const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function briefingRoutes(briefings: BriefingService): ApiRoute[] {
  return [
    route(
      {
        method: 'get',
        path: '/v1/reps/{id}/briefings',
        scope: 'read:all',
        summary: "A rep's briefings, newest first (`before` pages back by date)",
        tag: 'Briefings',
        params: idParams,
        query: listQuery,
        responses: {
          200: { description: 'Briefings', schema: z.object({ briefings: z.array(briefingSchema) }) },
          400: problem('Bad query'),
          404: problem('No such rep'),
        },
      },
      async ({ params, query }) => {
        const rows = await briefings.list(params.id, query.limit, query.before);
        return {
          status: 200,
          body: {
            briefings: rows.map((r) => ({
              id: r.id,
              local_date: r.local_date,
              time_zone: r.time_zone,
              status: r.status,
              prepare_at: r.prepare_at.toISOString(),
              deliver_at: r.deliver_at.toISOString(),
              cutoff_at: r.cutoff_at.toISOString(),
              prepared_at: iso(r.prepared_at),
              meeting_count: r.meeting_count,
              reason: r.reason,
              message_id: r.message_id,
              message_status: r.message_status,
              content: r.content,
            })),
          },
        };
      },
    ),
    route(
      {
        method: 'post',
        path: '/v1/reps/{id}/briefings/send',
        scope: 'send',
        summary: "Send today's briefing now (today's scheduled one if not sent yet, else a fresh copy)",
        tag: 'Briefings',
        params: idParams,
        responses: {
          202: { description: 'Handed to the delivery layer', schema: sendResponse },
          404: problem('No such rep'),
        },
      },
      async ({ params }) => {
        const result = await briefings.sendNow(params.id);
        return {
          status: 202,
          body: {
            briefing_id: result.briefingId,
            status: result.status,
            message_id: result.messageId ?? null,
          },
        };
      },
    ),
  ];
}
