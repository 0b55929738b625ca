import { z } from 'zod';
import { type ApiRoute, route } from '../http/api-route.ts';
import { problemSchema } from '../http/openapi.ts';
import {
  appointmentSchema,
  cancelAppointmentQuery,
  createAppointmentSchema,
  createNoteSchema,
  createServiceSchema,
  listAppointmentsQuery,
  noteSchema,
  serviceSchema,
  updateAppointmentSchema,
  updateNoteSchema,
  updateServiceSchema,
} from './appointment.schemas.ts';
import type { AppointmentService } from './appointment.service.ts';

const idParams = (what: string) => z.object({ id: z.uuid({ message: `must be ${what} id (UUID)` }) });
const noteParams = z.object({
  id: z.uuid({ message: 'must be an appointment id (UUID)' }),
  note_id: z.uuid({ message: 'must be a note id (UUID)' }),
});
const problem = (description: string) => ({ description, schema: problemSchema });
const SCOPE = 'appointments' as const;

export function appointmentRoutes(appointments: AppointmentService): ApiRoute[] {
  const actor = (principalId: string) => ({ id: `api-key:${principalId}` });
  const Services = 'Services';
  const Appointments = 'Appointments';
  return [
    route(
      {
        method: 'get',
        path: '/v1/services',
        scope: SCOPE,
        summary: 'List services',
        tag: Services,
        responses: {
          200: { description: 'Services', schema: z.object({ services: z.array(serviceSchema) }) },
        },
      },
      async () => ({ status: 200, body: await appointments.listServices() }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/services',
        scope: SCOPE,
        summary: 'Create a service (what reps book: a demo, an onboarding call)',
        tag: Services,
        body: createServiceSchema,
        responses: { 201: { description: 'Created', schema: serviceSchema }, 400: problem('Invalid body') },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: await appointments.createService(body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/services/{id}',
        scope: SCOPE,
        summary: 'Get a service',
        tag: Services,
        params: idParams('a service'),
        responses: {
          200: { description: 'The service', schema: serviceSchema },
          404: problem('No such service'),
        },
      },
      async ({ params }) => ({ status: 200, body: await appointments.getService(params.id) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/services/{id}',
        scope: SCOPE,
        summary: 'Change a service (booked appointments keep their times)',
        tag: Services,
        params: idParams('a service'),
        body: updateServiceSchema,
        responses: {
          200: { description: 'The service', schema: serviceSchema },
          400: problem('Invalid body'),
          404: problem('No such service'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await appointments.updateService(params.id, body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/services/{id}',
        scope: SCOPE,
        summary: 'Delete a service (one with appointments is deactivated instead)',
        tag: Services,
        params: idParams('a service'),
        responses: {
          200: {
            description: 'What was done',
            schema: z.object({ result: z.enum(['deleted', 'deactivated']) }),
          },
          404: problem('No such service'),
        },
      },
      async ({ params, principal }) => ({
        status: 200,
        body: { result: await appointments.deleteService(params.id, actor(principal.id)) },
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/appointments',
        scope: SCOPE,
        summary:
          'List appointments (by start; filters rep_id, service_id, status, from/to; cursor pagination)',
        tag: Appointments,
        query: listAppointmentsQuery,
        responses: {
          200: {
            description: 'A page of appointments',
            schema: z.object({
              appointments: z.array(appointmentSchema),
              next_cursor: z.string().nullable(),
            }),
          },
          400: problem('Bad query'),
        },
      },
      async ({ query }) => ({ status: 200, body: await appointments.list(query) }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/appointments',
        scope: SCOPE,
        summary: 'Book an appointment; the attendee is mailed a confirmation with an invite (asynchronously)',
        tag: Appointments,
        body: createAppointmentSchema,
        responses: {
          201: { description: 'Booked', schema: appointmentSchema },
          400: problem('Invalid body; `errors` names each wrong field'),
          409: problem(
            'Overlaps another appointment or a busy calendar event of the rep; `errors` names each',
          ),
        },
      },
      async ({ body, principal }) => ({
        status: 201,
        body: await appointments.create(body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/appointments/{id}',
        scope: SCOPE,
        summary: 'Get an appointment',
        tag: Appointments,
        params: idParams('an appointment'),
        responses: {
          200: { description: 'The appointment', schema: appointmentSchema },
          404: problem('No such appointment'),
        },
      },
      async ({ params }) => ({ status: 200, body: await appointments.get(params.id) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/appointments/{id}',
        scope: SCOPE,
        summary:
          'Reschedule, change service, attendee or location (update mail with a higher SEQUENCE), or mark completed/no_show',
        tag: Appointments,
        params: idParams('an appointment'),
        body: updateAppointmentSchema,
        responses: {
          200: { description: 'The appointment', schema: appointmentSchema },
          400: problem('Invalid body'),
          404: problem('No such appointment'),
          409: problem('Overlaps another commitment of the rep, or the appointment is cancelled'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await appointments.update(params.id, body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/appointments/{id}',
        scope: SCOPE,
        summary:
          'Cancel an appointment (the row stays with status cancelled; the attendee gets a METHOD:CANCEL)',
        tag: Appointments,
        params: idParams('an appointment'),
        query: cancelAppointmentQuery,
        responses: {
          200: { description: 'The cancelled appointment', schema: appointmentSchema },
          404: problem('No such appointment'),
        },
      },
      async ({ params, query, principal }) => ({
        status: 200,
        body: await appointments.cancel(params.id, query.reason, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/appointments/{id}/notes',
        scope: SCOPE,
        summary: "List an appointment's notes",
        tag: Appointments,
        params: idParams('an appointment'),
        responses: {
          200: { description: 'Notes', schema: z.object({ notes: z.array(noteSchema) }) },
          404: problem('No such appointment'),
        },
      },
      async ({ params }) => ({ status: 200, body: await appointments.listNotes(params.id) }),
    ),
    route(
      {
        method: 'post',
        path: '/v1/appointments/{id}/notes',
        scope: SCOPE,
        summary: 'Add a note to an appointment',
        tag: Appointments,
        params: idParams('an appointment'),
        body: createNoteSchema,
        responses: {
          201: { description: 'Created', schema: noteSchema },
          400: problem('Invalid body'),
          404: problem('No such appointment'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 201,
        body: await appointments.createNote(params.id, body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'get',
        path: '/v1/appointments/{id}/notes/{note_id}',
        scope: SCOPE,
        summary: 'Get a note',
        tag: Appointments,
        params: noteParams,
        responses: { 200: { description: 'The note', schema: noteSchema }, 404: problem('No such note') },
      },
      async ({ params }) => ({ status: 200, body: await appointments.getNote(params.id, params.note_id) }),
    ),
    route(
      {
        method: 'patch',
        path: '/v1/appointments/{id}/notes/{note_id}',
        scope: SCOPE,
        summary: 'Change a note',
        tag: Appointments,
        params: noteParams,
        body: updateNoteSchema,
        responses: {
          200: { description: 'The note', schema: noteSchema },
          400: problem('Invalid body'),
          404: problem('No such note'),
        },
      },
      async ({ params, body, principal }) => ({
        status: 200,
        body: await appointments.updateNote(params.id, params.note_id, body, actor(principal.id)),
      }),
    ),
    route(
      {
        method: 'delete',
        path: '/v1/appointments/{id}/notes/{note_id}',
        scope: SCOPE,
        summary: 'Delete a note',
        tag: Appointments,
        params: noteParams,
        responses: { 204: { description: 'Deleted' }, 404: problem('No such note') },
      },
      async ({ params, principal }) => {
        await appointments.deleteNote(params.id, params.note_id, actor(principal.id));
        return { status: 204 };
      },
    ),
  ];
}
