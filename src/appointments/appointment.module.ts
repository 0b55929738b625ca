import type pg from 'pg';
import type { Config } from '../config/config.ts';
import type { DeliveryService } from '../delivery/delivery.service.ts';
import type { ApiRoute } from '../http/api-route.ts';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import type { RepRepository } from '../reps/rep.repository.ts';
import type { Clock } from '../shared/time.ts';
import type { SlackPostService } from '../slack/posts/slack-post.service.ts';
import { appointmentEffects, appointmentJobHandlers } from './appointment.handlers.ts';
import { AppointmentRepository } from './appointment.repository.ts';
import { appointmentRoutes } from './appointment.routes.ts';
import { AppointmentService } from './appointment.service.ts';

export interface Appointments {
  service: AppointmentService;
  repo: AppointmentRepository;
  handlers: JobHandlers;
  routes: ApiRoute[];
}

/** The appointments feature: storage, API routes, mail/reminder jobs (their sweep is in jobs/schedules.ts). */
export function createAppointments(deps: {
  config: Config;
  pool: pg.Pool;
  queues: Queues;
  delivery: DeliveryService;
  reps: RepRepository;
  slackPosts?: SlackPostService;
  clock: Clock;
  logger: Logger;
}): Appointments {
  const repo = new AppointmentRepository(deps.pool);
  const mailerDeps = {
    repo,
    reps: deps.reps,
    delivery: deps.delivery,
    queues: deps.queues,
    slackPosts: deps.slackPosts,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'appointments' }),
    messageIdDomain: deps.config.email.messageIdDomain,
  };
  const service = new AppointmentService({
    repo,
    reps: deps.reps,
    clock: deps.clock,
    effects: appointmentEffects(mailerDeps),
  });
  return { service, repo, handlers: appointmentJobHandlers(mailerDeps), routes: appointmentRoutes(service) };
}
