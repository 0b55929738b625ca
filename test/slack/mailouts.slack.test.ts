import nock from 'nock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ACTIONS,
  MAILOUT_FORM_BLOCKS as B,
  CALLBACKS,
  COMMANDS,
  MAILOUT_REJECT_BLOCKS,
  SETTINGS_FORM_BLOCKS,
} from '../../blocks/ids.ts';
import { ADMIN_USER, SLACK_HOST, startTestService, type TestService } from '../helpers/service.ts';
import {
  blockAction,
  decodeSlackBody,
  event,
  fakeSlackApi,
  interaction,
  type SlackCall,
  slashCommand,
  viewSubmission,
} from '../helpers/slack.ts';

const APPROVALS = 'C0APPROVE1';
const REP = 'UREP000001';
const M1 = 'UMANAGER01';
const M2 = 'UMANAGER02';
/** A manager chosen in /briefly settings only (no rep row). */
const M3 = 'USETTINGS3';

let svc: TestService;
let calls: SlackCall[];
const responses: Record<string, unknown>[] = [];

type Block = Record<string, unknown> & { type: string; block_id?: string };

/** Block Kit limits Slack enforces (docs.slack.dev/reference/block-kit/blocks); a payload past them is refused. */
function expectWithinLimits(blocks: Block[], max: number) {
  expect(blocks.length).toBeLessThanOrEqual(max);
  let chars = 0;
  const texts = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(texts);
    else if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if (typeof o.text === 'string') chars += o.text.length;
      Object.values(o).forEach(texts);
    }
  };
  for (const block of blocks) {
    if (block.block_id) expect(block.block_id.length).toBeLessThanOrEqual(255);
    const text = (block.text as { text?: string } | undefined)?.text ?? '';
    if (block.type === 'section') expect(text.length).toBeLessThanOrEqual(3000);
    if (block.type === 'header') expect(text.length).toBeLessThanOrEqual(150);
    for (const f of (block.fields as { text: string }[] | undefined) ?? [])
      expect(f.text.length).toBeLessThanOrEqual(2000);
    const elements = [
      ...((block.elements as Record<string, unknown>[] | undefined) ?? []),
      ...(block.accessory ? [block.accessory as Record<string, unknown>] : []),
      ...(block.element ? [block.element as Record<string, unknown>] : []),
    ];
    if (block.type === 'actions') expect(elements.length).toBeLessThanOrEqual(25);
    if (block.type === 'context') expect(elements.length).toBeLessThanOrEqual(10);
    for (const e of elements) {
      if (e.type === 'button') {
        expect((e.text as { text: string }).text.length).toBeLessThanOrEqual(75);
        expect(String(e.value ?? '').length).toBeLessThanOrEqual(2000);
      }
      if (e.type === 'mrkdwn') expect(String(e.text).length).toBeLessThanOrEqual(2000);
      const options = (e.options as { text: { text: string }; value: string }[] | undefined) ?? [];
      expect(options.length).toBeLessThanOrEqual(100);
      for (const o of options) {
        expect(o.text.text.length).toBeLessThanOrEqual(75);
        expect(o.value.length).toBeLessThanOrEqual(75);
      }
    }
  }
  texts(blocks);
  // Undocumented aggregate limit (msg_blocks_too_long at about 13.2k characters, bolt-js #2509).
  expect(chars).toBeLessThan(12_000);
}

const secs = (ms: number) => Math.floor(ms / 1000);

function formValues(o: {
  name?: string;
  text?: string;
  starts?: number;
  ends?: number;
  from?: string | null;
  to?: string | null;
  operators?: string[];
  tags?: string[];
}) {
  const now = Date.now();
  return {
    [B.name]: { value: { type: 'plain_text_input', value: o.name ?? 'VIP December' } },
    [B.text]: {
      [ACTIONS.mailoutFormText]: { type: 'plain_text_input', value: o.text ?? 'Hello from Briefly' },
    },
    [B.startsAt]: {
      value: { type: 'datetimepicker', selected_date_time: o.starts ?? secs(now + 3_600_000) },
    },
    [B.endsAt]: {
      value: { type: 'datetimepicker', selected_date_time: o.ends ?? secs(now + 2 * 86_400_000) },
    },
    [B.windowFrom]: { [ACTIONS.mailoutFormTime]: { type: 'timepicker', selected_time: o.from ?? null } },
    [B.windowTo]: { [ACTIONS.mailoutFormTime]: { type: 'timepicker', selected_time: o.to ?? null } },
    [B.operatorCodes]: {
      [ACTIONS.mailoutFormOperators]: {
        type: 'multi_static_select',
        selected_options: (o.operators ?? ['916']).map((value) => ({ value })),
      },
    },
    [B.tags]: {
      [ACTIONS.mailoutFormTags]: {
        type: 'multi_static_select',
        selected_options: (o.tags ?? []).map((value) => ({ value })),
      },
    },
  };
}

const submitForm = (user: string, values: ReturnType<typeof formValues>, meta = '{}') =>
  interaction(
    svc.web,
    viewSubmission(user, { callback_id: CALLBACKS.mailoutForm, private_metadata: meta, values }),
  );

const mailoutRows = async () =>
  (await svc.db.query('SELECT id::int, name, status::text, version, slack_cards FROM mailouts ORDER BY id'))
    .rows as {
    id: number;
    name: string;
    status: string;
    version: number;
    slack_cards: string[];
  }[];

/** The chat.postMessage/chat.update calls that carry this mailout's card. */
const cardCalls = (id: number) =>
  calls.filter(
    (c) =>
      (c.method === 'chat.postMessage' || c.method === 'chat.update') &&
      JSON.stringify(c.body.blocks ?? '').includes(`"mailout:${id}:request"`),
  );

async function createViaModal(user = REP, values = formValues({})): Promise<number> {
  const before = (await mailoutRows()).length;
  const res = await submitForm(user, values);
  expect(res.statusCode).toBe(200);
  expect(res.body).toBe('');
  const rows = await mailoutRows();
  expect(rows.length).toBe(before + 1);
  return rows.at(-1)?.id as number;
}

/** Waits for the card to be in Slack; returns its channel and ts. */
async function postedCard(id: number) {
  return vi.waitFor(
    async () => {
      const { rows } = await svc.db.query(
        `SELECT channel_id, ts FROM slack_posts WHERE key = $1 AND ts IS NOT NULL`,
        [`mailout:${id}`],
      );
      expect(rows[0]).toBeDefined();
      return rows[0] as { channel_id: string; ts: string };
    },
    { timeout: 30_000, interval: 100 },
  );
}

const click = (user: string, actionId: string, value: string) =>
  interaction(
    svc.web,
    blockAction(
      user,
      { action_id: actionId, value },
      {
        container: { type: 'message', message_ts: '1.2', channel_id: APPROVALS, is_ephemeral: false },
        channel: { id: APPROVALS, name: 'approvals' },
      },
    ),
  );

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  calls = fakeSlackApi((call) => {
    // Bolt's client posts form fields; nested values (view, blocks) are JSON strings.
    for (const [key, value] of Object.entries(call.body)) {
      if (typeof value === 'string' && /^[[{]/.test(value)) {
        try {
          call.body[key] = JSON.parse(value);
        } catch {}
      }
    }
    return answer(call);
  });
  const answer = (call: SlackCall) =>
    call.method === 'views.open'
      ? { body: { ok: true, view: { id: 'V0OPENED01', hash: 'h1' } } }
      : call.method === 'conversations.info'
        ? {
            body: {
              ok: true,
              channel: { id: call.body.channel, is_private: false, is_archived: false, is_member: true },
            },
          }
        : undefined;
  nock(SLACK_HOST)
    .persist()
    .post(/^\/(actions|commands)\//)
    .reply((_uri, body) => {
      responses.push(decodeSlackBody(body));
      return [200, { ok: true }];
    });
  svc = await startTestService();
  await svc.db.query(
    `INSERT INTO reps (name, email, time_zone, role, slack_user_id) VALUES
     ('Rita Rep', 'rita@acme.test', 'Asia/Kolkata', 'rep', $1),
     ('Mia Manager', 'mia@acme.test', 'Europe/Paris', 'manager', $2),
     ('Max Manager', 'max@acme.test', 'America/New_York', 'manager', $3)`,
    [REP, M1, M2],
  );
  await svc.db.query(
    `INSERT INTO settings (key, value) VALUES ('approvals_channel', $1), ('mailout_managers', $2)`,
    [JSON.stringify(APPROVALS), JSON.stringify([M3])],
  );
  await svc.db.query(
    `INSERT INTO customers (phone, operator_code, tag, time_zone)
     SELECT '7916' || lpad(g::text, 7, '0'), CASE WHEN g % 3 = 0 THEN '903' ELSE '916' END,
            CASE WHEN g % 2 = 0 THEN 'vip' ELSE NULL END,
            (ARRAY['Europe/Moscow', 'Asia/Kolkata', 'America/New_York'])[1 + g % 3]
     FROM generate_series(1, 30) g`,
  );
});

beforeEach(() => {
  calls.length = 0;
  responses.length = 0;
});

afterAll(async () => {
  if (process.env.DEBUG_LOG)
    console.log(
      svc.log
        .lines()
        .filter((l) => /warn|error/.test(l))
        .slice(0, 20)
        .join('\n'),
    );
  if (process.env.DEBUG_LOG) console.log(JSON.stringify(calls.slice(0, 3)).slice(0, 3000));
  await svc.close();
  nock.cleanAll();
  nock.enableNetConnect();
});

vi.setConfig({ testTimeout: 90_000 });

describe('/mailouts', () => {
  it('when /mailouts help or /briefly mailouts help is sent, then the subcommands are listed', async () => {
    for (const [command, text] of [
      [COMMANDS.mailouts, 'help'],
      [COMMANDS.briefly, 'mailouts help'],
    ]) {
      const res = await slashCommand(svc.web, {
        command: command as string,
        text: text as string,
        user_id: REP,
      });
      expect(res.json().response_type).toBe('ephemeral');
      expect(res.json().text).toContain('/mailouts new');
    }
    const unknown = await slashCommand(svc.web, {
      command: COMMANDS.mailouts,
      text: 'frobnicate',
      user_id: REP,
    });
    expect(unknown.json().text).toMatch(/I don't know `frobnicate`/);
  });

  it('when /mailouts new is sent, then the modal opens with filters counted from the customers, within Block Kit limits', async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.mailouts, text: 'new', user_id: REP });
    expect(res.statusCode).toBe(200);
    const open = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.open');
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    const view = open.body.view as { callback_id: string; notify_on_close: boolean; blocks: Block[] };
    expect(view.callback_id).toBe(CALLBACKS.mailoutForm);
    expect(view.notify_on_close).toBe(true);
    const operators = view.blocks.find((b) => b.block_id === B.operatorCodes)?.element as {
      type: string;
      options: { text: { text: string }; value: string }[];
    };
    expect(operators.type).toBe('multi_static_select');
    expect(operators.options.map((o) => o.text.text)).toEqual(['916 · 20 customers', '903 · 10 customers']);
    expect(JSON.stringify(view.blocks)).toContain('Audience: 30 customers');
    expect(JSON.stringify(view.blocks)).toContain('(Asia/Kolkata)');
    expectWithinLimits(view.blocks, 100);
  });

  it('when the filter changes in the modal, then the audience line is redrawn (views.update with the hash)', async () => {
    const values = formValues({ operators: ['903'], tags: [] });
    const res = await interaction(
      svc.web,
      blockAction(
        REP,
        { action_id: ACTIONS.mailoutFormOperators, type: 'multi_static_select' },
        {
          container: { type: 'view', view_id: 'V0OPENED01' },
          view: {
            id: 'V0OPENED01',
            hash: 'h1',
            callback_id: CALLBACKS.mailoutForm,
            private_metadata: '{}',
            title: { type: 'plain_text', text: 'New mailout' },
            submit: { type: 'plain_text', text: 'Submit' },
            close: { type: 'plain_text', text: 'Cancel' },
            state: { values },
            blocks: [
              { type: 'context', block_id: B.textSize, elements: [{ type: 'mrkdwn', text: 'old' }] },
              { type: 'section', block_id: B.audience, text: { type: 'mrkdwn', text: 'old' } },
            ],
          },
        },
      ),
    );
    expect(res.statusCode).toBe(200);
    const update = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.update');
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    expect(update.body.view_id).toBe('V0OPENED01');
    expect(update.body.hash).toBe('h1');
    const text = JSON.stringify(update.body.view);
    expect(text).toContain('Audience: 10 customers');
    expect(text).toContain('18 characters · 1 SMS segment (GSM-7)');
  });

  it('when the modal is submitted with the end before the start, an empty audience or a text too long, then each field says so and nothing is stored', async () => {
    const now = Date.now();
    const cases: [ReturnType<typeof formValues>, string, RegExp][] = [
      [
        formValues({ starts: secs(now + 7_200_000), ends: secs(now + 3_600_000) }),
        B.endsAt,
        /after the start/,
      ],
      [formValues({ operators: ['903'], tags: ['nobody-has-this'] }), B.tags, /No customer matches/],
      [formValues({ operators: ['999'] }), B.operatorCodes, /No customer matches/],
      [formValues({ text: 'x'.repeat(2001) }), B.text, /2000/],
      [formValues({ from: '10:00', to: null }), B.windowTo, /both ends/],
    ];
    for (const [values, block, message] of cases) {
      const res = await submitForm(REP, values);
      expect(res.statusCode).toBe(200);
      expect(res.json().response_action).toBe('errors');
      expect(res.json().errors).toEqual({ [block]: expect.stringMatching(message) });
    }
    expect(await mailoutRows()).toEqual([]);
  });

  it('when the modal is closed (view_closed), then it is acknowledged and nothing is stored or posted', async () => {
    const res = await interaction(svc.web, {
      type: 'view_closed',
      team: { id: 'T0001', domain: 'acme' },
      user: { id: REP, name: 'rita', team_id: 'T0001' },
      api_app_id: 'A0APP',
      token: 'x',
      view: {
        id: 'V0OPENED01',
        type: 'modal',
        callback_id: CALLBACKS.mailoutForm,
        private_metadata: '{}',
        state: { values: {} },
      },
      is_cleared: false,
      is_enterprise_install: false,
    });
    expect(res.statusCode).toBe(200);
    expect(await mailoutRows()).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toEqual([]);
  });
});

describe('approval in Slack', () => {
  it('when a rep submits the modal, then one card goes to the approvals channel with the request and versioned buttons', async () => {
    const id = await createViaModal(
      REP,
      formValues({ from: '10:00', to: '20:00', operators: ['916'], tags: ['vip'] }),
    );
    const [row] = (await mailoutRows()).filter((r) => r.id === id);
    expect(row).toMatchObject({ status: 'pending_approval', version: 1 });
    await postedCard(id);
    expect((await mailoutRows()).find((r) => r.id === id)?.slack_cards).toEqual([`mailout:${id}`]);
    const post = cardCalls(id).find((c) => c.method === 'chat.postMessage') as SlackCall;
    expect(post.body.channel).toBe(APPROVALS);
    const text = JSON.stringify(post.body.blocks);
    expect(text).toContain(`*Requested by:* <@${REP}>`);
    expect(text).toMatch(/<!date\^\d+\^\{date_short_pretty\} \{time\}\|/);
    expect(text).toContain("10:00–20:00 in each customer's time zone");
    expect(text).toContain('operators 916 · tags vip');
    expect(text).toMatch(/\*Audience:\* 10 customers/);
    expect(text).toContain('Hello from Briefly');
    const actions = (post.body.blocks as Block[]).find(
      (b) => b.block_id === `mailout:${id}:decide`,
    ) as unknown as {
      elements: { action_id: string; value: string }[];
    };
    expect(actions.elements.map((e) => [e.action_id, e.value])).toEqual([
      [ACTIONS.mailoutApprove, `${id}:1`],
      [ACTIONS.mailoutEditApprove, `${id}:1`],
      [ACTIONS.mailoutReject, `${id}:1`],
      [ACTIONS.mailoutAudience, `${id}:1`],
    ]);
  });

  it('when the author (a manager) or a non-manager clicks Approve, then they are told ephemerally and nothing changes', async () => {
    const own = await createViaModal(M1);
    const other = await createViaModal(REP);
    await click(M1, ACTIONS.mailoutApprove, `${own}:1`);
    await click(REP, ACTIONS.mailoutApprove, `${other}:1`);
    await vi.waitFor(() => expect(responses.length).toBe(2));
    const texts = responses.map((r) => String(r.text));
    expect(texts).toContainEqual(expect.stringMatching(/own mailout/));
    expect(texts).toContainEqual(expect.stringMatching(/not a manager/));
    for (const r of responses)
      expect(r).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    const rows = (await mailoutRows()).filter((r) => r.id === own || r.id === other);
    expect(rows.map((r) => r.status)).toEqual(['pending_approval', 'pending_approval']);
  });

  it('when the mailout changed since the card was posted, then a click on the old version is refused and the card shows the new one', async () => {
    const id = await createViaModal(REP);
    await postedCard(id);
    // The author edits it in the modal (opened from /mailouts ID): the version goes to 2.
    const edited = await submitForm(
      REP,
      formValues({ text: 'Changed text' }),
      JSON.stringify({ id, version: 1 }),
    );
    expect(edited.statusCode).toBe(200);
    expect(edited.body).toBe('');
    await click(M1, ACTIONS.mailoutApprove, `${id}:1`);
    await vi.waitFor(() => expect(responses.length).toBe(1));
    expect(String(responses[0]?.text)).toMatch(/version 1 .*now version 2.*newer request/);
    expect((await mailoutRows()).find((r) => r.id === id)?.status).toBe('pending_approval');
    await vi.waitFor(
      () =>
        expect(
          cardCalls(id).some(
            (c) => c.method === 'chat.update' && JSON.stringify(c.body.blocks).includes(`"${id}:2"`),
          ),
        ).toBe(true),
      { timeout: 30_000 },
    );
  });

  it('when two managers approve at once, then exactly one decision wins and the other is told who decided', async () => {
    const id = await createViaModal(REP);
    await Promise.all([
      click(M1, ACTIONS.mailoutApprove, `${id}:1`),
      click(M2, ACTIONS.mailoutApprove, `${id}:1`),
    ]);
    await vi.waitFor(() => expect(responses.length).toBe(1), { timeout: 20_000 });
    const { rows } = await svc.db.query(
      `SELECT actor FROM audit_log WHERE subject = $1 AND action = 'mailout.scheduled'`,
      [`mailout:${id}`],
    );
    expect(rows).toHaveLength(1);
    const winner = rows[0].actor as string;
    expect([M1, M2]).toContain(winner);
    expect(String(responses[0]?.text)).toContain(`already approved by <@${winner}>`);
  });

  it('when a manager approves, then the same message is edited in place (stored channel and ts) and the author gets a DM', async () => {
    const id = await createViaModal(REP);
    const card = await postedCard(id);
    await click(M3, ACTIONS.mailoutApprove, `${id}:1`);
    const update = await vi.waitFor(
      () => {
        const c = cardCalls(id).find(
          (x) => x.method === 'chat.update' && JSON.stringify(x.body.blocks).includes('Approved by'),
        );
        expect(c).toBeDefined();
        return c as SlackCall;
      },
      { timeout: 30_000 },
    );
    expect(update.body).toMatchObject({ channel: card.channel_id, ts: card.ts });
    expect(JSON.stringify(update.body.blocks)).toMatch(new RegExp(`Approved by <@${M3}> at <!date\\^\\d+`));
    expect(JSON.stringify(update.body.blocks)).not.toContain(ACTIONS.mailoutApprove);
    await vi.waitFor(
      () =>
        expect(
          calls.some(
            (c) =>
              c.method === 'chat.postMessage' &&
              c.body.channel === REP &&
              String(c.body.text).includes('approved by'),
          ),
        ).toBe(true),
      { timeout: 30_000 },
    );
    expect((await mailoutRows()).find((r) => r.id === id)?.status).toBe('scheduled');
  });

  it('when a manager rejects with a reason, then the modal asks it, the card says "Rejected by" with it, and the author is told', async () => {
    const id = await createViaModal(REP);
    const card = await postedCard(id);
    await click(M2, ACTIONS.mailoutReject, `${id}:1`);
    const open = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.open');
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    const view = open.body.view as { callback_id: string; private_metadata: string };
    expect(view.callback_id).toBe(CALLBACKS.mailoutReject);
    const submit = (reason: string) =>
      interaction(
        svc.web,
        viewSubmission(M2, {
          callback_id: CALLBACKS.mailoutReject,
          private_metadata: view.private_metadata,
          values: { [MAILOUT_REJECT_BLOCKS.reason]: { value: { type: 'plain_text_input', value: reason } } },
        }),
      );
    const empty = await submit('   ');
    expect(empty.json().errors[MAILOUT_REJECT_BLOCKS.reason]).toMatch(/Say why/);
    const res = await submit('Wrong audience <b>');
    expect(res.body).toBe('');
    const { rows } = await svc.db.query(
      'SELECT status::text, rejected_by, rejection_reason FROM mailouts WHERE id = $1',
      [id],
    );
    expect(rows[0]).toEqual({ status: 'rejected', rejected_by: M2, rejection_reason: 'Wrong audience <b>' });
    const update = await vi.waitFor(
      () => {
        const c = cardCalls(id).find(
          (x) => x.method === 'chat.update' && JSON.stringify(x.body.blocks).includes('Rejected'),
        );
        expect(c).toBeDefined();
        return c as SlackCall;
      },
      { timeout: 30_000 },
    );
    expect(update.body).toMatchObject({ channel: card.channel_id, ts: card.ts });
    expect(JSON.stringify(update.body.blocks)).toContain(`*Rejected* by <@${M2}>: Wrong audience &lt;b&gt;`);
    await vi.waitFor(
      () =>
        expect(
          calls.some(
            (c) =>
              c.method === 'chat.postMessage' &&
              c.body.channel === REP &&
              String(c.body.text).includes('rejected'),
          ),
        ).toBe(true),
      { timeout: 30_000 },
    );
    const audit = await svc.db.query(`SELECT actor, action FROM audit_log WHERE subject = $1 ORDER BY id`, [
      `mailout:${id}`,
    ]);
    expect(audit.rows.map((r) => r.action)).toEqual(['mailout.pending_approval', 'mailout.rejected']);
  });

  it('when a manager presses Edit and approve, then the modal opens prefilled and saving approves the new version', async () => {
    const id = await createViaModal(REP);
    await click(M1, ACTIONS.mailoutEditApprove, `${id}:1`);
    const open = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.open');
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    const view = open.body.view as { private_metadata: string; blocks: Block[]; submit: { text: string } };
    expect(view.submit.text).toBe('Save and approve');
    expect(JSON.parse(view.private_metadata)).toEqual({ id, version: 1, approve: true });
    expect(
      (view.blocks.find((b) => b.block_id === B.text)?.element as { initial_value?: string } | undefined)
        ?.initial_value,
    ).toBe('Hello from Briefly');
    const res = await submitForm(M1, formValues({ text: 'Better text' }), view.private_metadata);
    expect(res.body).toBe('');
    const { rows } = await svc.db.query(
      'SELECT status::text, version, text, approved_by, approved_version FROM mailouts WHERE id = $1',
      [id],
    );
    expect(rows[0]).toEqual({
      status: 'scheduled',
      version: 2,
      text: 'Better text',
      approved_by: M1,
      approved_version: 2,
    });
  });

  it('when View audience is pressed for the largest audience, then the modal lists zones, operators and a masked sample within Block Kit limits', async () => {
    // 300 operator codes in 120 zones: lists are cut, the modal stays valid.
    await svc.db.query(
      `INSERT INTO customers (phone, operator_code, tag, time_zone)
       SELECT '7800' || lpad(g::text, 7, '0'), (500 + g % 300)::text, 'wide', 'Etc/GMT+' || (g % 12)::text
       FROM generate_series(1, 3000) g`,
    );
    const id = await createViaModal(REP, formValues({ operators: [], tags: ['wide'] }));
    calls.length = 0;
    await click(M1, ACTIONS.mailoutAudience, `${id}:1`);
    const update = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.update');
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    expect(update.body.view_id).toBe('V0OPENED01');
    const blocks = (update.body.view as { blocks: Block[] }).blocks;
    const text = JSON.stringify(blocks);
    expect(text).toContain('*3,000 customers*');
    expect(text).toMatch(/more operators/);
    expect(text).toMatch(/7800•••/);
    expect(text).not.toMatch(/78000000001/);
    expectWithinLimits(blocks, 100);
  });

  it('when the text is the longest allowed and full of characters Slack escapes, then the card stays within Block Kit limits', async () => {
    const longest = `${'&<>'.repeat(666)}&<`;
    expect(longest.length).toBe(2000);
    const id = await createViaModal(REP, formValues({ text: longest, name: 'N'.repeat(200) }));
    await postedCard(id);
    const post = cardCalls(id).find((c) => c.method === 'chat.postMessage') as SlackCall;
    expectWithinLimits(post.body.blocks as Block[], 50);
    expect(JSON.stringify(post.body.blocks)).toContain(JSON.stringify(longest).slice(1, -1));
  });
});

describe('settings, App Home and the list', () => {
  it('when an admin saves mailout managers in /briefly settings, then they may decide', async () => {
    const res = await interaction(
      svc.web,
      viewSubmission(ADMIN_USER, {
        callback_id: CALLBACKS.settingsForm,
        values: {
          [SETTINGS_FORM_BLOCKS.approvals_channel]: {
            value: { type: 'conversations_select', selected_conversation: APPROVALS },
          },
          [SETTINGS_FORM_BLOCKS.mailout_managers]: {
            value: { type: 'multi_users_select', selected_users: [M3, 'UNEWMGR001'] },
          },
        },
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(await svc.mailouts.service.isManager('UNEWMGR001')).toBe(true);
    expect(await svc.mailouts.service.isManager(REP)).toBe(false);
    expect(await svc.mailouts.service.isManager(M1)).toBe(true);
  });

  it('when a manager opens App Home, then "Waiting for your approval" comes first with the same buttons; the author sees "Your mailouts"', async () => {
    const id = await createViaModal(REP, formValues({ name: 'Home test' }));
    calls.length = 0;
    await event(svc.web, { type: 'app_home_opened', user: M1, channel: 'D0HOME0001', tab: 'home' });
    const publish = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.publish' && x.body.user_id === M1);
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    const blocks = (publish.body.view as { blocks: Block[] }).blocks;
    expect((blocks[0]?.text as { text?: string } | undefined)?.text).toBe('Waiting for your approval');
    expect(JSON.stringify(blocks)).toContain(`"${id}:1"`);
    expectWithinLimits(blocks, 100);
    await event(svc.web, { type: 'app_home_opened', user: REP, channel: 'D0HOME0002', tab: 'home' });
    const mine = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.publish' && x.body.user_id === REP);
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    const text = JSON.stringify(mine.body.view);
    expect(text).toContain('Your mailouts');
    expect(text).toContain('Home test');
    expect(text).not.toContain('Waiting for your approval');
  });

  it('when /mailouts and /mailouts ID are sent, then recent mailouts are listed with Open and one is shown with its numbers', async () => {
    const list = await slashCommand(svc.web, { command: COMMANDS.mailouts, user_id: REP });
    const blocks = list.json().blocks as Block[];
    expectWithinLimits(blocks, 50);
    const rows = await mailoutRows();
    const latest = rows.at(-1) as { id: number };
    const item = blocks.find((b) => b.block_id === `mailout:${latest.id}`) as unknown as {
      accessory: { action_id: string };
    };
    expect(item.accessory.action_id).toBe(ACTIONS.mailoutOpen);
    const one = await slashCommand(svc.web, {
      command: COMMANDS.mailouts,
      text: String(latest.id),
      user_id: REP,
    });
    expect(JSON.stringify(one.json().blocks)).toContain('Home test');
    const missing = await slashCommand(svc.web, { command: COMMANDS.mailouts, text: '999999', user_id: REP });
    expect(missing.json().text).toMatch(/No mailout 999999/);
  });

  it('when there are more than 100 operator codes, then the modal uses an external select and options answer with counts by prefix', async () => {
    calls.length = 0;
    await slashCommand(svc.web, { command: COMMANDS.mailouts, text: 'new', user_id: REP });
    const open = await vi.waitFor(() => {
      const c = calls.find((x) => x.method === 'views.open');
      expect(c).toBeDefined();
      return c as SlackCall;
    });
    const element = (open.body.view as { blocks: Block[] }).blocks.find((b) => b.block_id === B.operatorCodes)
      ?.element as { type: string; action_id: string };
    expect(element.type).toBe('multi_external_select');
    const res = await interaction(svc.web, {
      type: 'block_suggestion',
      user: { id: REP, name: 'rita', team_id: 'T0001' },
      team: { id: 'T0001', domain: 'acme' },
      api_app_id: 'A0APP',
      token: 'x',
      container: { type: 'view', view_id: 'V0OPENED01' },
      view: { id: 'V0OPENED01', callback_id: CALLBACKS.mailoutForm },
      block_id: B.operatorCodes,
      action_id: element.action_id,
      value: '70',
    });
    expect(res.statusCode).toBe(200);
    const options = res.json().options as { text: { text: string }; value: string }[];
    expect(options.map((o) => o.value).sort()).toEqual([
      '700',
      '701',
      '702',
      '703',
      '704',
      '705',
      '706',
      '707',
      '708',
      '709',
    ]);
    expect(options[0]?.text.text).toBe('700 · 10 customers');
    const all = await interaction(svc.web, {
      type: 'block_suggestion',
      user: { id: REP, name: 'rita', team_id: 'T0001' },
      team: { id: 'T0001', domain: 'acme' },
      api_app_id: 'A0APP',
      token: 'x',
      container: { type: 'view', view_id: 'V0OPENED01' },
      view: { id: 'V0OPENED01', callback_id: CALLBACKS.mailoutForm },
      block_id: B.operatorCodes,
      action_id: element.action_id,
      value: '',
    });
    expect(all.json().options).toHaveLength(100);
  });
});
