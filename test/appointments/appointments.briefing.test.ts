import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { briefingBlocks, MAX_MESSAGE_BLOCKS } from '../../blocks/briefing.ts';
import { renderBriefingEmail } from '../../emails/briefing.tsx';
import type { BriefingModel } from '../../src/briefings/briefing.model.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

let svc: TestService;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.close();
  nock.enableNetConnect();
});

describe('appointments in the briefing', () => {
  it('when a rep has an appointment today, then the briefing model, email and Slack copy show it with its notes; cancelled ones are left out', async () => {
    const actor = { id: 'test' };
    const rep = await svc.reps.create(
      { name: 'Bea Rep', email: 'bea@acme.test', time_zone: 'Asia/Kolkata', slack_dm: false },
      actor,
    );
    const service = await svc.appointments.service.createService(
      {
        name: 'Onboarding call',
        description: '',
        duration_minutes: 45,
        buffer_minutes: 0,
        reminder_minutes: [60],
        active: true,
      },
      actor,
    );
    const start = new Date(Date.now() + 3 * 3_600_000);
    start.setUTCSeconds(0, 0);
    const booked = await svc.appointments.service.createFromInput(
      {
        rep_id: rep.id,
        service_id: service.id,
        attendee: { name: 'Omar Client', email: 'omar@client.test', time_zone: 'Europe/London' },
        start: start.toISOString(),
        location: 'https://meet.test/omar',
      },
      actor,
      [{ title: 'Notes', body: 'Migrating from <Legacy> CRM & wants SSO' }],
    );
    const cancelled = await svc.appointments.service.createFromInput(
      {
        rep_id: rep.id,
        service_id: service.id,
        attendee: { name: 'Gone Client', email: 'gone@client.test', time_zone: 'Europe/London' },
        start: new Date(start.getTime() + 3_600_000).toISOString(),
      },
      actor,
    );
    await svc.appointments.service.cancel(cancelled.id, 'moved on', actor);

    const model = await svc.briefings.service.preview(rep.id);
    expect(model.appointments).toEqual([
      {
        serviceName: 'Onboarding call',
        attendee: { name: 'Omar Client', email: 'omar@client.test' },
        startsAt: booked.start,
        endsAt: booked.end,
        location: 'https://meet.test/omar',
        notes: [{ title: 'Notes', body: 'Migrating from <Legacy> CRM & wants SSO' }],
      },
    ]);

    const email = await renderBriefingEmail(model);
    expect(email.text).toContain('Onboarding call with Omar Client');
    expect(email.text).toContain('Migrating from <Legacy> CRM & wants SSO');
    expect(email.html).not.toContain('Gone Client');
    expect(email.text).not.toContain('No meetings today');

    const slack = briefingBlocks(model);
    expect(slack.blocks.length).toBeLessThanOrEqual(MAX_MESSAGE_BLOCKS);
    const text = JSON.stringify(slack.blocks);
    expect(text).toContain('*Appointments*');
    expect(text).toContain('Migrating from &lt;Legacy&gt; CRM &amp; wants SSO');
    expect(text).not.toContain('No meetings today');
  });

  it('when a rep has many appointments with long notes, then the Slack copy stays inside Block Kit limits', () => {
    const model: BriefingModel = {
      rep: { name: 'R', email: 'r@acme.test' },
      timeZone: 'UTC',
      localDate: '2026-11-02',
      windowStart: '2026-11-02T08:00:00.000Z',
      windowEnd: '2026-11-03T08:00:00.000Z',
      meetings: [],
      allDay: [],
      appointments: Array.from({ length: 60 }, (_, i) => ({
        serviceName: `Demo ${i}`,
        attendee: { name: `Person ${i}`, email: `p${i}@client.test` },
        startsAt: '2026-11-02T09:00:00.000Z',
        endsAt: '2026-11-02T09:30:00.000Z',
        notes: [{ title: 'Notes', body: 'x'.repeat(2_000) }],
      })),
    };
    const { blocks } = briefingBlocks(model);
    for (const block of blocks) {
      const t = (block as { text?: { text: string } }).text?.text ?? '';
      expect(t.length).toBeLessThanOrEqual(3000);
    }
    expect(JSON.stringify(blocks)).toContain('more appointments');
  });
});
