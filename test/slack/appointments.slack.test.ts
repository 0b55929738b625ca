import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACTIONS, APPOINTMENT_FORM_BLOCKS, CALLBACKS, COMMANDS } from '../../blocks/ids.ts';
import { SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';
import {
  blockAction,
  decodeSlackBody,
  fakeAuthTest,
  interaction,
  slackApi,
  slashCommand,
  viewSubmission,
} from '../helpers/slack.ts';

let svc: TestService;
const REP_USER = 'UAPPT00001';
let repId: string;
let serviceId: string;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService();
  repId = (
    await svc.reps.create(
      {
        name: 'Sam Rep',
        email: 'sam@acme.test',
        time_zone: 'America/New_York',
        slack_user_id: REP_USER,
        slack_dm: false,
      },
      { id: 'test' },
    )
  ).id;
  serviceId = (
    await svc.appointments.service.createService(
      {
        name: 'Demo',
        description: '',
        duration_minutes: 30,
        buffer_minutes: 0,
        reminder_minutes: [60],
        active: true,
      },
      { id: 'test' },
    )
  ).id;
});
beforeEach(() => fakeAuthTest());
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

/** Block Kit limits Slack enforces (a payload past them is refused). */
function expectWithinLimits(blocks: Record<string, unknown>[], max = 50) {
  expect(blocks.length).toBeLessThanOrEqual(max);
  for (const block of blocks) {
    const text = (block.text as { text?: string } | undefined)?.text ?? '';
    expect(text.length).toBeLessThanOrEqual(3000);
    if (typeof block.block_id === 'string') expect(block.block_id.length).toBeLessThanOrEqual(255);
    for (const element of (block.elements as { text?: { text: string }; value?: string }[] | undefined) ??
      []) {
      if (element.text) expect(element.text.text.length).toBeLessThanOrEqual(75);
      if (element.value) expect(element.value.length).toBeLessThanOrEqual(2000);
    }
  }
}

const tomorrow = () => {
  const d = new Date(Date.now() + 2 * 86_400_000);
  return d.toISOString().slice(0, 10);
};

function formValues(o: { date: string; time: string; email?: string }) {
  return {
    [APPOINTMENT_FORM_BLOCKS.service]: {
      value: { type: 'static_select', selected_option: { value: serviceId } },
    },
    [APPOINTMENT_FORM_BLOCKS.date]: { value: { type: 'datepicker', selected_date: o.date } },
    [APPOINTMENT_FORM_BLOCKS.time]: { value: { type: 'timepicker', selected_time: o.time } },
    [APPOINTMENT_FORM_BLOCKS.attendeeName]: { value: { type: 'plain_text_input', value: 'Ada Buyer' } },
    [APPOINTMENT_FORM_BLOCKS.attendeeEmail]: {
      value: { type: 'email_text_input', value: o.email ?? 'ada@client.test' },
    },
    [APPOINTMENT_FORM_BLOCKS.attendeeTimeZone]: { value: { type: 'plain_text_input', value: null } },
    [APPOINTMENT_FORM_BLOCKS.location]: {
      value: { type: 'plain_text_input', value: 'https://meet.test/ada' },
    },
    [APPOINTMENT_FORM_BLOCKS.notes]: { value: { type: 'plain_text_input', value: 'Wants SSO pricing' } },
  };
}

describe('/appointments', () => {
  it('when a rep runs /appointments new, then the modal opens with the time picker labelled in the rep zone', async () => {
    const views = slackApi('views.open');
    const res = await slashCommand(svc.web, {
      command: COMMANDS.appointments,
      text: 'new',
      user_id: REP_USER,
    });
    expect(res.statusCode).toBe(200);
    await vi.waitFor(() => expect(views.scope.isDone()).toBe(true));
    const view = (views.captured[0] as { view: { callback_id: string; blocks: Record<string, unknown>[] } })
      .view;
    expect(view.callback_id).toBe(CALLBACKS.appointmentForm);
    expect(view.blocks.map((b) => b.block_id)).toEqual(Object.values(APPOINTMENT_FORM_BLOCKS));
    const time = view.blocks.find((b) => b.block_id === APPOINTMENT_FORM_BLOCKS.time) as {
      label: { text: string };
    };
    expect(time.label.text).toBe('Start time (America/New_York)');
    expectWithinLimits(view.blocks, 100);
  });

  it('when the modal is submitted, then the appointment is booked in the rep zone with its note; an overlapping one gets the conflict on the time field', async () => {
    const date = tomorrow();
    const ok = await interaction(
      svc.web,
      viewSubmission(REP_USER, {
        callback_id: CALLBACKS.appointmentForm,
        values: formValues({ date, time: '10:00' }),
      }),
    );
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('');
    const { appointments } = await svc.appointments.service.list({ rep_id: repId, limit: 10 });
    expect(appointments).toHaveLength(1);
    const booked = appointments[0];
    expect(booked).toMatchObject({
      attendee: { name: 'Ada Buyer', email: 'ada@client.test', time_zone: 'America/New_York' },
    });
    const { DateTime } = await import('luxon');
    expect(booked?.start).toBe(
      DateTime.fromISO(`${date}T10:00`, { zone: 'America/New_York' }).toUTC().toISO(),
    );
    expect((await svc.appointments.service.listNotes(booked?.id ?? '')).notes[0]).toMatchObject({
      body: 'Wants SSO pricing',
    });

    const clash = await interaction(
      svc.web,
      viewSubmission(REP_USER, {
        callback_id: CALLBACKS.appointmentForm,
        values: formValues({ date, time: '10:15' }),
      }),
    );
    expect(clash.json()).toEqual({
      response_action: 'errors',
      errors: {
        [APPOINTMENT_FORM_BLOCKS.time]: expect.stringContaining(`overlaps appointment ${booked?.id}`),
      },
    });
    expect(clash.json().errors[APPOINTMENT_FORM_BLOCKS.time]).not.toContain('allow_overlap');

    const badEmail = await interaction(
      svc.web,
      viewSubmission(REP_USER, {
        callback_id: CALLBACKS.appointmentForm,
        values: formValues({ date, time: '15:00', email: 'nope' }),
      }),
    );
    expect(badEmail.json().errors).toEqual({
      [APPOINTMENT_FORM_BLOCKS.attendeeEmail]: expect.stringContaining('email'),
    });
    expect((await svc.appointments.service.list({ rep_id: repId, limit: 10 })).appointments).toHaveLength(1);
  });

  it('when the rep presses Reschedule, then the modal opens prefilled in the rep zone and its submission moves the appointment', async () => {
    const { appointments } = await svc.appointments.service.list({
      rep_id: repId,
      status: 'booked',
      limit: 1,
    });
    const current = appointments[0];
    if (!current) throw new Error('no booked appointment from the previous test');
    const views = slackApi('views.open');
    await interaction(
      svc.web,
      blockAction(REP_USER, { action_id: ACTIONS.appointmentReschedule, value: current.id }),
    );
    await vi.waitFor(() => expect(views.scope.isDone()).toBe(true));
    const view = (
      views.captured[0] as { view: { private_metadata: string; blocks: Record<string, unknown>[] } }
    ).view;
    const time = view.blocks.find((b) => b.block_id === APPOINTMENT_FORM_BLOCKS.time) as {
      element: { initial_time: string };
    };
    expect(time.element.initial_time).toBe('10:00');
    expect(view.blocks.map((b) => b.block_id)).not.toContain(APPOINTMENT_FORM_BLOCKS.notes);
    const date = current.start.slice(0, 10);
    const values = formValues({ date, time: '14:30' });
    delete (values as Record<string, unknown>)[APPOINTMENT_FORM_BLOCKS.notes];
    const res = await interaction(
      svc.web,
      viewSubmission(REP_USER, {
        callback_id: CALLBACKS.appointmentForm,
        private_metadata: view.private_metadata,
        values,
      }),
    );
    expect(res.body).toBe('');
    const moved = await svc.appointments.service.get(current.id);
    expect(moved.sequence).toBe(1);
    expect(new Date(moved.start).getTime() - new Date(current.start).getTime()).toBe(4.5 * 3_600_000);
  });

  it('when the rep lists appointments and presses Cancel, then the list shows Reschedule/Cancel and the cancel replaces it', async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.appointments, user_id: REP_USER });
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    expectWithinLimits(body.blocks);
    const actions = body.blocks.find((b: { block_id?: string }) =>
      b.block_id?.startsWith('appointment_actions:'),
    );
    expect(actions.elements.map((e: { action_id: string }) => e.action_id)).toEqual([
      ACTIONS.appointmentReschedule,
      ACTIONS.appointmentCancel,
    ]);
    const id = actions.elements[1].value as string;

    let replaced: Record<string, unknown> | undefined;
    const hook = nock(SLACK_HOST)
      .post('/actions/T0001/1/response', (b) => {
        replaced = decodeSlackBody(b);
        return true;
      })
      .reply(200, { ok: true });
    await interaction(svc.web, blockAction(REP_USER, { action_id: ACTIONS.appointmentCancel, value: id }));
    await vi.waitFor(() => expect(hook.isDone()).toBe(true));
    expect(replaced?.replace_original).toBe(true);
    expect(replaced?.text).toContain('0');
    expect((await svc.appointments.service.get(id)).status).toBe('cancelled');

    // Someone else's press is refused.
    const other = await interaction(
      svc.web,
      blockAction('UOTHER0001', { action_id: ACTIONS.appointmentCancel, value: id }),
    );
    expect(other.statusCode).toBe(200);
  });
});
