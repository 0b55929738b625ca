import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACTIONS, CALLBACKS, COMMANDS, REP_FORM_BLOCKS } from '../../blocks/ids.ts';
import { ADMIN_USER, SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';
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
const REP_USER = 'UREP000001';

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService();
});

beforeEach(() => {
  fakeAuthTest();
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

function formValues(overrides: Partial<Record<keyof typeof REP_FORM_BLOCKS, unknown>> = {}) {
  const v = {
    user: { type: 'users_select', selected_user: REP_USER },
    email: { type: 'plain_text_input', value: 'ana@acme.com' },
    timeZone: { type: 'plain_text_input', value: 'Europe/Paris' },
    briefingTime: { type: 'timepicker', selected_time: '07:30' },
    calendarSource: { type: 'static_select', selected_option: { value: 'microsoft' } },
    role: { type: 'static_select', selected_option: { value: 'rep' } },
    ...overrides,
  };
  return {
    [REP_FORM_BLOCKS.user]: { [ACTIONS.repUserPicked]: v.user },
    [REP_FORM_BLOCKS.email]: { value: v.email },
    [REP_FORM_BLOCKS.timeZone]: { value: v.timeZone },
    [REP_FORM_BLOCKS.briefingTime]: { value: v.briefingTime },
    [REP_FORM_BLOCKS.calendarSource]: { value: v.calendarSource },
    [REP_FORM_BLOCKS.role]: { value: v.role },
  } as Record<string, Record<string, unknown>>;
}

async function countReps(): Promise<number> {
  const { rows } = await svc.db.query('SELECT count(*)::int AS n FROM reps');
  return rows[0].n;
}

describe('/reps', () => {
  it('when a non-admin runs /reps add, then they get an ephemeral explanation and no modal opens', async () => {
    const views = slackApi('views.open');
    const res = await slashCommand(svc.web, {
      command: COMMANDS.reps,
      text: 'add',
      user_id: 'UNOBODY001',
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toMatch(/Only Briefly admins and managers/);
    expect(views.scope.isDone()).toBe(false);
  });

  it('when an admin runs /reps add, then the add-rep modal opens with every field', async () => {
    const views = slackApi('views.open');
    const res = await slashCommand(svc.web, { command: COMMANDS.reps, text: 'add', user_id: ADMIN_USER });
    expect(res.statusCode).toBe(200);
    await vi.waitFor(() => expect(views.scope.isDone()).toBe(true));
    const sent = views.captured[0] as {
      trigger_id: string;
      view: { callback_id: string; blocks: { block_id: string }[] };
    };
    expect(sent.trigger_id).toBe('1234.5678.trigger');
    expect(sent.view.callback_id).toBe(CALLBACKS.repForm);
    expect(sent.view.blocks.map((b) => b.block_id)).toEqual(Object.values(REP_FORM_BLOCKS));
    expect(sent.view).toMatchSnapshot();
  });

  it('when the modal is submitted with an invalid email, then Slack gets an inline error on the email field and nothing is stored', async () => {
    slackApi('users.info', { ok: true, user: { id: REP_USER, real_name: 'Ana Lima', tz: 'Europe/Paris' } });
    const before = await countReps();
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.repForm,
        values: formValues({ email: { type: 'plain_text_input', value: 'not-an-email' } }),
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      response_action: 'errors',
      errors: { [REP_FORM_BLOCKS.email]: expect.stringMatching(/^Work email must be a valid email address/) },
    });
    expect(await countReps()).toBe(before);
  });

  it('when the modal is submitted with an unknown time zone, then the time zone field gets the error', async () => {
    slackApi('users.info', { ok: true, user: { id: REP_USER, real_name: 'Ana Lima' } });
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.repForm,
        values: formValues({ timeZone: { type: 'plain_text_input', value: 'Mars/Olympus' } }),
      }),
    );
    expect(res.json()).toEqual({
      response_action: 'errors',
      errors: { [REP_FORM_BLOCKS.timeZone]: expect.stringMatching(/^Time zone must be an IANA time zone/) },
    });
  });

  it('when a non-admin submits the modal, then it is refused inline', async () => {
    const res = await interaction(
      svc.web,
      viewSubmission('UNOBODY001', { callback_id: CALLBACKS.repForm, values: formValues() }),
    );
    expect(res.json().errors[REP_FORM_BLOCKS.user]).toMatch(/Only Briefly admins and managers/);
  });

  it('when a valid modal is submitted, then the rep is stored with the Slack name and the admin is told', async () => {
    const info = slackApi('users.info', {
      ok: true,
      user: { id: REP_USER, real_name: 'Ana Lima', tz: 'Europe/Paris' },
    });
    const ephemeral = slackApi('chat.postEphemeral');
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.repForm,
        private_metadata: JSON.stringify({ channelId: 'C0CHANNEL1' }),
        values: formValues({ email: { type: 'plain_text_input', value: ' Ana@Acme.com ' } }),
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(info.captured[0]).toMatchObject({ user: REP_USER });
    const { rows } = await svc.db.query('SELECT * FROM reps WHERE slack_user_id = $1', [REP_USER]);
    expect(rows[0]).toMatchObject({
      name: 'Ana Lima',
      email: 'ana@acme.com',
      time_zone: 'Europe/Paris',
      briefing_time: '07:30',
      calendar_source: 'microsoft',
      role: 'rep',
    });
    await vi.waitFor(() => expect(ephemeral.scope.isDone()).toBe(true));
    expect(ephemeral.captured[0]).toMatchObject({ channel: 'C0CHANNEL1', user: ADMIN_USER });
    expect(String(ephemeral.captured[0]?.text)).toContain(`Added <@${REP_USER}>`);
    const audit = await svc.db.query("SELECT actor FROM audit_log WHERE action = 'rep.create'");
    expect(audit.rows[0].actor).toBe(`slack:${ADMIN_USER}`);
  });

  it('when the same email is added again, then the email field says it is already used', async () => {
    slackApi('users.info', { ok: true, user: { id: 'UREP000002', real_name: 'Other' } });
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.repForm,
        values: formValues({ user: { type: 'users_select', selected_user: 'UREP000002' } }),
      }),
    );
    expect(res.json().errors[REP_FORM_BLOCKS.email]).toMatch(/already used/);
  });

  it('when a user is picked in the modal, then email and time zone are prefilled from their Slack profile', async () => {
    slackApi('users.info', {
      ok: true,
      user: { id: 'UREP000003', real_name: 'Bo', tz: 'Asia/Kolkata', profile: { email: 'bo@acme.com' } },
    });
    const update = slackApi('views.update');
    const payload = blockAction(
      ADMIN_USER,
      {
        type: 'users_select',
        action_id: ACTIONS.repUserPicked,
        block_id: REP_FORM_BLOCKS.user,
        selected_user: 'UREP000003',
      },
      {
        container: { type: 'view', view_id: 'V0VIEW' },
        view: {
          id: 'V0VIEW',
          hash: '1.abc',
          callback_id: CALLBACKS.repForm,
          private_metadata: '{}',
          state: {
            values: formValues({
              user: { type: 'users_select', selected_user: 'UREP000003' },
              email: { type: 'plain_text_input', value: null },
              timeZone: { type: 'plain_text_input', value: null },
            }),
          },
        },
      },
    );
    const res = await interaction(svc.web, payload);
    expect(res.statusCode).toBe(200);
    await vi.waitFor(() => expect(update.scope.isDone()).toBe(true));
    const view = (
      update.captured[0] as { view: { blocks: { block_id: string; element: Record<string, unknown> }[] } }
    ).view;
    const email = view.blocks.find((b) => b.block_id.startsWith(REP_FORM_BLOCKS.email));
    const tz = view.blocks.find((b) => b.block_id.startsWith(REP_FORM_BLOCKS.timeZone));
    expect(email?.element.initial_value).toBe('bo@acme.com');
    expect(tz?.element.initial_value).toBe('Asia/Kolkata');
    expect(email?.block_id).toBe(`${REP_FORM_BLOCKS.email}:UREP000003`);
  });

  it('when more than 20 reps exist, then /reps shows 20 with Edit/Remove and a Next button that pages on', async () => {
    await svc.db.query(
      `INSERT INTO reps (name, email, time_zone) SELECT 'Zz Rep ' || lpad(i::text, 2, '0'), 'zz' || i || '@acme.com', 'UTC' FROM generate_series(1, 24) i`,
    );
    const res = await slashCommand(svc.web, { command: COMMANDS.reps, user_id: ADMIN_USER });
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    const reps = body.blocks.filter((b: { block_id?: string }) => b.block_id?.startsWith('rep:'));
    expect(reps).toHaveLength(20);
    const actions = body.blocks.filter((b: { block_id?: string }) => b.block_id?.startsWith('rep_actions:'));
    expect(actions[0].elements.map((e: { action_id: string }) => e.action_id)).toEqual([
      ACTIONS.repEdit,
      ACTIONS.repRemove,
    ]);
    expect(actions[0].elements[1].confirm.title.text).toBe('Remove this rep?');
    const pager = body.blocks.find((b: { block_id?: string }) => b.block_id === 'reps_pager');
    const next = pager.elements.find((e: { action_id: string }) => e.action_id.startsWith(ACTIONS.repsPage));
    expect(next.value).toBe('1');

    let replaced: Record<string, unknown> | undefined;
    const hook = nock(SLACK_HOST)
      .post('/actions/T0001/1/response', (b) => {
        replaced = decodeSlackBody(b);
        return true;
      })
      .reply(200, { ok: true });
    await interaction(svc.web, blockAction(ADMIN_USER, { action_id: next.action_id, value: '1' }));
    await vi.waitFor(() => expect(hook.isDone()).toBe(true));
    expect(replaced?.replace_original).toBe(true);
    const page2 = ((replaced?.blocks ?? []) as { block_id?: string }[]).filter((b) =>
      b.block_id?.startsWith('rep:'),
    );
    expect(page2).toHaveLength(5);
  });

  it('when a rep views /reps, then there are no Edit/Remove buttons', async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.reps, user_id: 'UNOBODY001' });
    const blocks = res.json().blocks as { block_id?: string }[];
    expect(blocks.some((b) => b.block_id?.startsWith('rep_actions:'))).toBe(false);
  });

  it('when an admin presses Edit, then the modal opens prefilled with the rep', async () => {
    const { rows } = await svc.db.query('SELECT id FROM reps WHERE slack_user_id = $1', [REP_USER]);
    const views = slackApi('views.open');
    await interaction(svc.web, blockAction(ADMIN_USER, { action_id: ACTIONS.repEdit, value: rows[0].id }));
    await vi.waitFor(() => expect(views.scope.isDone()).toBe(true));
    const view = (
      views.captured[0] as {
        view: { private_metadata: string; blocks: { element: Record<string, unknown> }[] };
      }
    ).view;
    expect(JSON.parse(view.private_metadata).repId).toBe(rows[0].id);
    expect(view.blocks[0]?.element.initial_user).toBe(REP_USER);
    expect(view.blocks[1]?.element.initial_value).toBe('ana@acme.com');
    expect(view.blocks[3]?.element.initial_time).toBe('07:30');
  });

  it('when the edit modal is submitted, then the rep changes and keeps its id', async () => {
    const { rows } = await svc.db.query('SELECT id FROM reps WHERE slack_user_id = $1', [REP_USER]);
    slackApi('users.info', { ok: true, user: { id: REP_USER, real_name: 'Ana Lima' } });
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.repForm,
        private_metadata: JSON.stringify({ repId: rows[0].id }),
        values: formValues({ role: { type: 'static_select', selected_option: { value: 'manager' } } }),
      }),
    );
    expect(res.body).toBe('');
    const after = await svc.db.query('SELECT role FROM reps WHERE id = $1', [rows[0].id]);
    expect(after.rows[0].role).toBe('manager');
  });

  it('when a non-admin presses Remove, then nothing is removed and they are told why', async () => {
    const { rows } = await svc.db.query('SELECT id FROM reps WHERE slack_user_id = $1', [REP_USER]);
    let said: Record<string, unknown> | undefined;
    const hook = nock(SLACK_HOST)
      .post('/actions/T0001/1/response', (b) => {
        said = decodeSlackBody(b);
        return true;
      })
      .reply(200, { ok: true });
    await interaction(
      svc.web,
      blockAction('UNOBODY001', { action_id: ACTIONS.repRemove, value: rows[0].id }),
    );
    await vi.waitFor(() => expect(hook.isDone()).toBe(true));
    expect(String(said?.text)).toMatch(/Only Briefly admins and managers/);
    expect((await svc.db.query('SELECT 1 FROM reps WHERE id = $1', [rows[0].id])).rowCount).toBe(1);
  });

  it('when a manager presses Remove (after confirming), then the rep is removed and the list is refreshed', async () => {
    const { rows } = await svc.db.query('SELECT id FROM reps WHERE slack_user_id = $1', [REP_USER]);
    // REP_USER is a manager now (edited above): managers may remove reps, themselves included.
    let replaced: Record<string, unknown> | undefined;
    const hook = nock(SLACK_HOST)
      .post('/actions/T0001/1/response', (b) => {
        replaced = decodeSlackBody(b);
        return true;
      })
      .reply(200, { ok: true });
    await interaction(svc.web, blockAction(REP_USER, { action_id: ACTIONS.repRemove, value: rows[0].id }));
    await vi.waitFor(() => expect(hook.isDone()).toBe(true));
    expect(replaced?.replace_original).toBe(true);
    expect(String(replaced?.text)).toContain('Removed Ana Lima (ana@acme.com)');
    expect((await svc.db.query('SELECT 1 FROM reps WHERE id = $1', [rows[0].id])).rowCount).toBe(0);
  });
});
