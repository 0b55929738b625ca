import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ACTIONS,
  CALLBACKS,
  COMMANDS,
  SEQUENCE_ENROLL_BLOCKS,
  SEQUENCE_FORM_BLOCKS,
  sequenceStepBlock,
} from '../../blocks/ids.ts';
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
let sequenceId: string;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService();
  const repo = svc.sequences.repo;
  const mailbox = await repo.createMailbox(
    { email: 'sales@acme.test', display_name: 'Sales', daily_limit: 40, status: 'active' },
    'test',
  );
  const sequence = await repo.createSequence(
    {
      name: 'Q3 <outbound>',
      window: { from: '09:00', to: '17:00' },
      days: [1, 2, 3, 4, 5],
      time_zone: 'Europe/Paris',
      status: 'active',
      mailbox_ids: [mailbox.id],
      steps: [
        { delay_days: 0, subject: 'Hi {{first_name}}', body: 'Hello' },
        { delay_days: 3, subject: 'x', body: 'Again' },
      ],
    },
    'test',
  );
  sequenceId = sequence.id;
});

beforeEach(() => fakeAuthTest());
afterEach(() => nock.cleanAll());
afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

describe('/sequences', () => {
  it("when an admin runs /sequences, then each sequence shows its status, mailboxes with today's numbers and Pause", async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.sequences, user_id: ADMIN_USER });
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    const section = body.blocks.find((b: { block_id?: string }) => b.block_id === `sequence:${sequenceId}`);
    expect(section.text.text).toContain(
      '*Q3 &lt;outbound&gt;* — active · 2 steps · 09:00-17:00 (Europe/Paris)',
    );
    expect(section.text.text).toContain('sales@acme.test: 0 planned, 0 sent today');
    const actions = body.blocks.find(
      (b: { block_id?: string }) => b.block_id === `sequence_actions:${sequenceId}`,
    );
    expect(actions.elements.map((e: { action_id: string }) => e.action_id)).toEqual([
      ACTIONS.sequenceOpen,
      ACTIONS.sequenceEdit,
      ACTIONS.sequenceEnrollOpen,
      ACTIONS.sequencePause,
    ]);
  });

  it('when someone who is not a manager runs it, then there is no Pause button', async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.sequences, user_id: 'UNOBODY001' });
    const actions = res
      .json()
      .blocks.find((b: { block_id?: string }) => b.block_id === `sequence_actions:${sequenceId}`);
    expect(actions.elements.map((e: { action_id: string }) => e.action_id)).toEqual([ACTIONS.sequenceOpen]);
  });

  it('when an admin presses Pause, then the sequence is paused and the list is redrawn with Resume', async () => {
    let replaced: Record<string, unknown> | undefined;
    const hook = nock(SLACK_HOST)
      .post('/actions/T0001/1/response', (b) => {
        replaced = decodeSlackBody(b);
        return true;
      })
      .reply(200, { ok: true });
    await interaction(
      svc.web,
      blockAction(ADMIN_USER, { action_id: ACTIONS.sequencePause, value: sequenceId }),
    );
    await vi.waitFor(() => expect(hook.isDone()).toBe(true));
    expect(
      (await svc.db.query('SELECT status FROM sequences WHERE id = $1', [sequenceId])).rows[0].status,
    ).toBe('paused');
    const blocks = replaced?.blocks as { block_id?: string; elements?: { action_id: string }[] }[];
    const actions = blocks.find((b) => b.block_id === `sequence_actions:${sequenceId}`);
    expect(actions?.elements?.map((e) => e.action_id)).toEqual([
      ACTIONS.sequenceOpen,
      ACTIONS.sequenceEdit,
      ACTIONS.sequenceEnrollOpen,
      ACTIONS.sequenceResume,
    ]);
  });

  it('when Open is pressed, then the steps are shown', async () => {
    let shown: Record<string, unknown> | undefined;
    const hook = nock(SLACK_HOST)
      .post('/actions/T0001/1/response', (b) => {
        shown = decodeSlackBody(b);
        return true;
      })
      .reply(200, { ok: true });
    await interaction(
      svc.web,
      blockAction('UNOBODY001', { action_id: ACTIONS.sequenceOpen, value: sequenceId }),
    );
    await vi.waitFor(() => expect(hook.isDone()).toBe(true));
    expect(JSON.stringify(shown?.blocks)).toContain('*Step 2* (3 days later)');
  });

  it('when emails are pasted in the enrol modal, then known contacts are enrolled and unknown emails are listed back', async () => {
    const views = slackApi('views.open');
    await interaction(
      svc.web,
      blockAction(ADMIN_USER, { action_id: ACTIONS.sequenceEnrollOpen, value: sequenceId }),
    );
    await vi.waitFor(() => expect(views.scope.isDone()).toBe(true));
    const opened = (views.captured[0] as { view: { private_metadata: string; callback_id: string } }).view;
    expect(opened.callback_id).toBe(CALLBACKS.sequenceEnroll);
    await svc.sequences.repo.createContacts(
      [
        { email: 'ana@lead.test', first_name: 'Ana', last_name: '', company: '', fields: {} },
        { email: 'bo@lead.test', first_name: 'Bo', last_name: '', company: '', fields: {} },
      ],
      'test',
    );
    const submit = (text: string) =>
      interaction(
        svc.web,
        viewSubmission(ADMIN_USER, {
          callback_id: CALLBACKS.sequenceEnroll,
          private_metadata: opened.private_metadata,
          values: { [SEQUENCE_ENROLL_BLOCKS.emails]: { value: { type: 'plain_text_input', value: text } } },
        }),
      );
    const bad = await submit('ana@lead.test, not-an-email');
    expect(bad.json()).toEqual({
      response_action: 'errors',
      errors: { [SEQUENCE_ENROLL_BLOCKS.emails]: 'Not an email: not-an-email' },
    });
    const res = await submit('ANA@lead.test\nbo@lead.test, ghost@nowhere.test');
    const body = res.json();
    expect(body.response_action).toBe('update');
    const text = JSON.stringify(body.view.blocks);
    expect(text).toContain('Enrolled 2.');
    expect(text).toContain('ghost@nowhere.test');
    const again = JSON.stringify((await submit('bo@lead.test')).json().view.blocks);
    expect(again).toContain('Already in this sequence (1)');
    const count = await svc.db.query(
      'SELECT count(*)::int AS n FROM sequence_contacts WHERE sequence_id = $1',
      [sequenceId],
    );
    expect(count.rows[0].n).toBe(2);
  });

  it('when the sequence modal is submitted, then fields are validated one by one and a valid one creates the sequence, owned by whoever submitted it (replies are DMed to them)', async () => {
    const views = slackApi('views.open');
    await interaction(svc.web, blockAction(ADMIN_USER, { action_id: ACTIONS.sequenceNew, value: 'new' }));
    await vi.waitFor(() => expect(views.scope.isDone()).toBe(true));
    const opened = (views.captured[0] as { view: { callback_id: string; blocks: { block_id?: string }[] } })
      .view;
    expect(opened.callback_id).toBe(CALLBACKS.sequenceForm);
    expect(opened.blocks.map((b) => b.block_id)).toContain(SEQUENCE_FORM_BLOCKS.mailboxes);
    const mailboxId = (await svc.db.query('SELECT id FROM mailboxes LIMIT 1')).rows[0].id;
    const input = (value: string) => ({ value: { type: 'plain_text_input', value } });
    const form = (overrides: Record<string, unknown> = {}) => ({
      [SEQUENCE_FORM_BLOCKS.name]: input('Renewals'),
      [SEQUENCE_FORM_BLOCKS.windowFrom]: input('08:30'),
      [SEQUENCE_FORM_BLOCKS.windowTo]: input('16:00'),
      [SEQUENCE_FORM_BLOCKS.timeZone]: input('America/Chicago'),
      [SEQUENCE_FORM_BLOCKS.days]: {
        value: { type: 'checkboxes', selected_options: [{ value: '1' }, { value: '3' }] },
      },
      [SEQUENCE_FORM_BLOCKS.mailboxes]: {
        value: { type: 'multi_static_select', selected_options: [{ value: mailboxId }] },
      },
      [sequenceStepBlock(1, 'subject')]: input('Hello {{first_name}}'),
      [sequenceStepBlock(1, 'body')]: input('Hi {{first_name}}'),
      [sequenceStepBlock(2, 'delay')]: input('4'),
      [sequenceStepBlock(2, 'subject')]: input('again'),
      [sequenceStepBlock(2, 'body')]: input('Still there, {{nickname}}?'),
      ...overrides,
    });
    const submit = (values: Record<string, unknown>) =>
      interaction(
        svc.web,
        viewSubmission(ADMIN_USER, {
          callback_id: CALLBACKS.sequenceForm,
          private_metadata: '{"sequenceId":null}',
          values: values as never,
        }),
      );
    const bad = (await submit(form({ [SEQUENCE_FORM_BLOCKS.windowTo]: input('25:00') }))).json();
    expect(bad.response_action).toBe('errors');
    expect(Object.keys(bad.errors).sort()).toEqual(
      [sequenceStepBlock(2, 'body'), SEQUENCE_FORM_BLOCKS.windowTo].sort(),
    );
    expect(bad.errors[sequenceStepBlock(2, 'body')]).toMatch(/unknown variable \{\{nickname\}\}/);
    const ok = await submit(form({ [sequenceStepBlock(2, 'body')]: input('Still there, {{first_name}}?') }));
    expect(ok.json()).toEqual({ response_action: 'clear' });
    const saved = (await svc.db.query(`SELECT * FROM sequences WHERE name = 'Renewals'`)).rows[0];
    expect(saved).toMatchObject({
      window_from: '08:30',
      window_to: '16:00',
      days: [1, 3],
      time_zone: 'America/Chicago',
      owner_slack_user_id: ADMIN_USER,
    });
    const steps = await svc.db.query(
      'SELECT step, delay_days FROM sequence_steps WHERE sequence_id = $1 ORDER BY step',
      [saved.id],
    );
    expect(steps.rows).toEqual([
      { step: 1, delay_days: 0 },
      { step: 2, delay_days: 4 },
    ]);
  });
});
