import { DateTime } from 'luxon';
import { listAppointmentsQuery } from '../appointments/appointment.schemas.ts';
import { isAppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { Service } from '../main.ts';
import {
  createContactSchema,
  createMailboxSchema,
  createSequenceSchema,
} from '../sequences/sequence.schemas.ts';
import { DEMO_PHONE_PREFIX } from './demo-send-api.ts';

/**
 * `briefly demo` seeds one of everything a newcomer should see populated, and running it again
 * adds nothing twice (each item is found by its name, email or phone first):
 * customers in several zones, a mailout awaiting a manager's approval and one running (sent
 * through the demo process's own fake send API), a sequence with enrolled contacts, a service with
 * appointments. The briefing part (rep, sample calendar, today's briefing) is src/briefings/demo.ts.
 */
export const DEMO_MANAGER = {
  name: 'Demo Manager',
  email: 'demo.manager@briefly.example',
  time_zone: 'America/New_York',
  role: 'manager',
} as const;

/** Spread around the clock: whatever the hour, some are inside the mailouts' 09:00-21:00 window and some not. */
export const DEMO_CUSTOMER_ZONES = [
  'America/Los_Angeles',
  'America/New_York',
  'Europe/London',
  'Europe/Moscow',
  'Asia/Kolkata',
  'Asia/Tokyo',
  'Australia/Sydney',
] as const;

export const DEMO_NAMES = {
  pendingMailout: 'Demo: spring offer (awaiting approval)',
  runningMailout: 'Demo: welcome message (running)',
  mailbox: 'sales.demo@briefly.example',
  sequence: 'Demo: new trial follow-up',
  service: 'Demo: discovery call',
} as const;

const CONTACTS = [
  {
    email: 'ana.silva@client.example',
    first_name: 'Ana',
    last_name: 'Silva',
    company: 'Client Co',
    time_zone: 'Europe/Lisbon',
  },
  {
    email: 'raj.patel@client.example',
    first_name: 'Raj',
    last_name: 'Patel',
    company: 'Client Co',
    time_zone: 'Asia/Kolkata',
  },
  {
    email: 'mia.chen@prospect.example',
    first_name: 'Mia',
    last_name: 'Chen',
    company: 'Prospect Ltd',
    time_zone: 'America/New_York',
  },
];

const ATTENDEES = [
  { name: 'Ana Silva', email: 'ana.silva@client.example', time_zone: 'Europe/Lisbon', at: '10:00' },
  { name: 'Raj Patel', email: 'raj.patel@client.example', time_zone: 'Asia/Kolkata', at: '14:30' },
];

export interface DemoSeedResult {
  managerId: string;
  customers: { created: number; total: number };
  mailouts: { pendingId: number; runningId: number; runningSent: number };
  sequence: { id: string; enrolled: number };
  service: { id: string };
  appointments: { created: number; upcoming: number };
}

const actor = { id: 'demo' };

export async function seedDemo(
  service: Service,
  demoRep: { id: string; timeZone: string },
  logger: Logger,
  options: { now?: Date; sendWaitMs?: number } = {},
): Promise<DemoSeedResult> {
  const now = options.now ?? new Date();
  const manager =
    (await service.reps.findByEmail(DEMO_MANAGER.email)) ?? (await service.reps.create(DEMO_MANAGER, actor));

  // --- customers: two per zone, tagged demo, in the demo's own phone range
  let created = 0;
  const phones = DEMO_CUSTOMER_ZONES.flatMap((zone, z) =>
    [0, 1].map((i) => ({ zone, phone: `${DEMO_PHONE_PREFIX}${String(z * 2 + i + 1).padStart(2, '0')}` })),
  );
  for (const { zone, phone } of phones) {
    try {
      await service.mailouts.customers.create({ phone, tag: 'demo', time_zone: zone }, 'demo');
      created++;
    } catch (error) {
      if (!(isAppError(error) && error.code === 'conflict')) throw error;
    }
  }

  // --- mailouts: one awaiting approval, one approved and running
  const existing = (await service.mailouts.service.statsAll()).mailouts;
  const byName = (name: string) => existing.find((m) => m.name === name && m.status !== 'cancelled');
  const mailoutInput = (name: string, text: string, startsAt: Date) => ({
    name,
    text,
    starts_at: startsAt,
    ends_at: new Date(now.getTime() + 3 * 86_400_000),
    filter: { operator_codes: [], tags: ['demo'] },
    window: { from: '09:00', to: '21:00' },
    created_by: demoRep.id,
    submit: true,
  });
  const pendingId =
    byName(DEMO_NAMES.pendingMailout)?.id ??
    (
      await service.mailouts.service.create(
        mailoutInput(
          DEMO_NAMES.pendingMailout,
          'Spring is here: 20% off your next order until Sunday.',
          new Date(now.getTime() + 86_400_000),
        ),
        demoRep.id,
      )
    ).id;
  let runningId = byName(DEMO_NAMES.runningMailout)?.id;
  if (runningId === undefined) {
    const draft = await service.mailouts.service.create(
      mailoutInput(DEMO_NAMES.runningMailout, 'Welcome to our service! Reply STOP to opt out.', now),
      demoRep.id,
    );
    // The demo manager approves the version the demo rep submitted; it starts at once.
    await service.mailouts.service.approve(draft.id, { approved_by: manager.id, version: draft.version });
    runningId = draft.id;
  }
  // Customers whose local time is inside the window now are sent at once; wait for them.
  const inWindow = phones.filter(({ zone }) => {
    const hour = DateTime.fromJSDate(now, { zone }).hour;
    return hour >= 9 && hour < 21;
  }).length;
  const runningSent = await waitForSent(service, runningId, inWindow, options.sendWaitMs ?? 30_000);

  // --- sequence: a mailbox, three contacts, two steps, everyone enrolled
  const mailbox =
    (await service.sequences.repo.listMailboxes()).find((m) => m.email === DEMO_NAMES.mailbox) ??
    (await service.sequences.repo.createMailbox(
      createMailboxSchema.parse({ email: DEMO_NAMES.mailbox, display_name: 'Demo Sales', daily_limit: 50 }),
      'demo',
    ));
  await service.sequences.repo.createContacts(
    CONTACTS.map((c) => createContactSchema.parse(c)),
    'demo',
  );
  const contacts = await service.sequences.repo.contactsByEmail(CONTACTS.map((c) => c.email));
  const sequenceId =
    (await service.sequences.repo.listSequences()).find((s) => s.name === DEMO_NAMES.sequence)?.id ??
    (
      await service.sequences.repo.createSequence(
        createSequenceSchema.parse({
          name: DEMO_NAMES.sequence,
          window: { from: '09:00', to: '17:00' },
          days: [1, 2, 3, 4, 5],
          time_zone: demoRep.timeZone,
          status: 'active',
          mailbox_ids: [mailbox.id],
          steps: [
            {
              delay_days: 0,
              subject: 'How is your trial going, {{first_name}}?',
              body: 'Hi {{first_name}},\n\nAnything I can help {{company}} with this week?\n\nUnsubscribe: {{unsubscribe_url}}',
            },
            {
              delay_days: 3,
              subject: 'Quick follow-up',
              body: 'Hi {{first_name}}, just checking in on my last note.\n\nUnsubscribe: {{unsubscribe_url}}',
            },
          ],
        }),
        'demo',
      )
    ).id;
  const enrolled = await service.sequences.repo.enroll(
    String(sequenceId),
    contacts.map((c) => String(c.id)),
    now,
    'demo',
  );
  await service.sequences.planNow();

  // --- appointments: a service and two bookings tomorrow in the demo rep's zone
  const services = (await service.appointments.service.listServices()).services;
  const demoService =
    services.find((s) => s.name === DEMO_NAMES.service) ??
    (await service.appointments.service.createService(
      {
        name: DEMO_NAMES.service,
        description: 'A first 30-minute call.',
        duration_minutes: 30,
        buffer_minutes: 10,
        reminder_minutes: [1440, 60],
        active: true,
      },
      actor,
    ));
  const upcoming = await service.appointments.service.list(
    listAppointmentsQuery.parse({
      rep_id: demoRep.id,
      service_id: demoService.id,
      status: 'booked',
      from: now.toISOString(),
    }),
  );
  let appointmentsCreated = 0;
  if (upcoming.appointments.length === 0) {
    const tomorrow = DateTime.fromJSDate(now, { zone: demoRep.timeZone }).plus({ days: 1 }).toISODate();
    for (const a of ATTENDEES) {
      await service.appointments.service.createFromInput(
        {
          rep_id: demoRep.id,
          service_id: demoService.id,
          attendee: { name: a.name, email: a.email, time_zone: a.time_zone },
          start: `${tomorrow}T${a.at}`,
          time_zone: demoRep.timeZone,
          location: 'https://meet.example/demo',
          // The sample calendar is busy most mornings; the demo books anyway.
          allow_overlap: true,
        },
        actor,
        [{ title: 'Context', body: `${a.name} asked about pricing for a team of 20.` }],
      );
      appointmentsCreated++;
    }
  }

  const result: DemoSeedResult = {
    managerId: manager.id,
    customers: { created, total: phones.length },
    mailouts: { pendingId: Number(pendingId), runningId: Number(runningId), runningSent },
    sequence: {
      id: String(sequenceId),
      enrolled: enrolled.enrolled.length + enrolled.already_enrolled.length,
    },
    service: { id: demoService.id },
    appointments: {
      created: appointmentsCreated,
      upcoming: upcoming.appointments.length + appointmentsCreated,
    },
  };
  logger.info('demo data', { ...result });
  return result;
}

/** Polls the running mailout until the messages of the zones inside their window are sent. */
async function waitForSent(
  service: Service,
  mailoutId: number,
  expected: number,
  waitMs: number,
): Promise<number> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const stats = await service.mailouts.service.stats(mailoutId);
    const sent = stats.counts.sent ?? 0;
    if (sent >= expected || Date.now() > deadline) return sent;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
