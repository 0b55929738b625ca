import type { QueueName } from './queues.ts';

/**
 * Every recurring schedule, in one place. Agenda (PostgreSQL) owns *when*; at each run it only
 * enqueues a BullMQ job whose id is derived from the run time, so two scheduler instances firing
 * the same run enqueue one job. The work itself happens in BullMQ workers.
 */
export interface Schedule {
  name: string;
  /** Agenda interval: a cron expression or a human interval ("5 minutes"). */
  every: string;
  timezone: string;
  queue: QueueName;
  job: string;
  /** Bucket size for the deterministic job id: one job per bucket at most. */
  bucketMs: number;
}

export const SCHEDULES: readonly Schedule[] = [
  {
    // Purges every table listed in src/retention/retention.ts in small batches. Hourly, so an
    // expiry is at most an hour late and each run has little to do.
    name: 'retention-purge',
    every: '15 * * * *',
    timezone: 'UTC',
    queue: 'maintenance',
    job: 'retention-purge',
    bucketMs: 3_600_000,
  },
  {
    // Re-enqueues due outbox rows Redis lost (a restart without persistence, a flush).
    name: 'outbox-sweep',
    every: '1 minute',
    timezone: 'UTC',
    queue: 'maintenance',
    job: 'outbox-sweep',
    bucketMs: 60_000,
  },
  {
    // Probes providers whose circuit is open and due; a success half-opens it (trial messages decide).
    name: 'provider-probe',
    every: '10 seconds',
    timezone: 'UTC',
    queue: 'maintenance',
    job: 'provider-probe',
    bucketMs: 10_000,
  },
  {
    // Re-enqueues Slack posts whose job Redis lost or gave up on (slack_posts rows stay pending).
    name: 'slack-post-sweep',
    every: '1 minute',
    timezone: 'UTC',
    queue: 'slack',
    job: 'post-sweep',
    bucketMs: 60_000,
  },
  {
    name: 'delivery-backlog-check',
    every: '1 minute',
    timezone: 'UTC',
    queue: 'maintenance',
    job: 'delivery-backlog-check',
    bucketMs: 60_000,
  },
  {
    // Creates each rep's briefing once their local preparation time has passed (and catches up
    // after downtime); a minute keeps delivery within a minute of the rep's chosen time.
    name: 'briefing-tick',
    every: '1 minute',
    timezone: 'UTC',
    queue: 'maintenance',
    job: 'briefing-tick',
    bucketMs: 60_000,
  },
  {
    // Deletes enrichment data 30 days old or older (and expired not-found answers).
    name: 'enrichment-purge',
    every: '40 3 * * *',
    timezone: 'UTC',
    queue: 'maintenance',
    job: 'enrichment-purge',
    bucketMs: 3_600_000,
  },
  {
    // Appointment mails and reminders whose jobs Redis lost (src/appointments/appointment.handlers.ts).
    name: 'appointments-sweep',
    every: '1 minute',
    timezone: 'UTC',
    queue: 'appointments',
    job: 'sweep',
    bucketMs: 60_000,
  },
  {
    // Fits due sequence steps into each mailbox's remaining capacity and window (src/sequences).
    name: 'sequence-plan',
    every: '5 minutes',
    timezone: 'UTC',
    queue: 'sequences',
    job: 'sequence-plan',
    bucketMs: 300_000,
  },
  {
    // Posts each stats channel's (and emails each recipient's) previous local day once its local
    // time has passed today (src/stats); one job per channel (recipient) and local date.
    name: 'stats-tick',
    every: '1 minute',
    timezone: 'UTC',
    queue: 'maintenance',
    job: 'stats-tick',
    bucketMs: 60_000,
  },
];

export function scheduledJobId(schedule: Schedule, at: Date): string {
  // BullMQ custom job ids must not contain ":" (its key separator).
  return `${schedule.name}@${Math.floor(at.getTime() / schedule.bucketMs) * schedule.bucketMs}`;
}
