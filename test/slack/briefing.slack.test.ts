import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ACTIONS,
  BRIEFING_SETTINGS_BLOCKS,
  BRIEFING_SETTINGS_OPTIONS,
  CALLBACKS,
  COMMANDS,
} from '../../blocks/ids.ts';
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

const ANA = 'UANA000001';
const BO = 'UBOB000001';
const CY = 'UCYN000001';
const MIA = 'UMIA000001';
const NOBODY = 'UNOBODY001';

const FEED_HOST = 'https://cal.test';
const MEETING = 'Discovery call with Globex';

/** A meeting starting two hours from now (inside the next-24-hours window of the briefing). */
function icsFeed(title = MEETING): string {
  const stamp = (d: Date) => `${d.toISOString().slice(0, 16).replace(/[-:]/g, '')}00Z`;
  const start = new Date(Date.now() + 2 * 3_600_000);
  const end = new Date(start.getTime() + 1_800_000);
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//Briefly//Slack test//EN',
    'BEGIN:VEVENT',
    `UID:${title.replace(/\W+/g, '-').toLowerCase()}@acme.com`,
    'DTSTAMP:20260101T000000Z',
    `DTSTART:${stamp(start)}`,
    `DTEND:${stamp(end)}`,
    `SUMMARY:${title}`,
    'ORGANIZER;CN=Ana Lima:mailto:ana@acme.com',
    'ATTENDEE;CN=Ana Lima;PARTSTAT=ACCEPTED:mailto:ana@acme.com',
    'ATTENDEE;CN=Hank Scorpio;PARTSTAT=ACCEPTED:mailto:hank@globex.example',
    'END:VEVENT',
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

/** Captures what the command posts to its response_url (Bolt's respond()). */
function responseUrl(times = 1) {
  const captured: Record<string, unknown>[] = [];
  const scope = nock(SLACK_HOST)
    .post('/commands/T0001/1/response', (body) => {
      captured.push(decodeSlackBody(body));
      return true;
    })
    .times(times)
    .reply(200, 'ok');
  return { scope, captured };
}

async function answered(hook: ReturnType<typeof responseUrl>, timeout = 10_000) {
  await vi.waitFor(() => expect(hook.scope.isDone()).toBe(true), { timeout, interval: 50 });
  const body = hook.captured[0] ?? {};
  return { body, text: `${String(body.text)}\n${JSON.stringify(body.blocks ?? [])}` };
}

async function repId(slackUserId: string): Promise<string> {
  const { rows } = await svc.db.query('SELECT id FROM reps WHERE slack_user_id = $1', [slackUserId]);
  return rows[0].id;
}

let svc: TestService;

beforeAll(async () => {
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  svc = await startTestService();
  await svc.db.query(
    `INSERT INTO reps (name, email, time_zone, slack_user_id, briefing_time, prep_time, slack_dm, empty_briefings, role) VALUES
      ('Ana Lima', 'ana@acme.com', 'Europe/Paris', $1, '08:00', '05:00', false, false, 'rep'),
      ('Bo Brown', 'bo@acme.com', 'America/New_York', $2, '07:30', '05:00', false, false, 'rep'),
      ('Cy North', 'cy@acme.com', 'Asia/Tokyo', $3, '09:00', '06:00', false, false, 'rep'),
      ('Mia Stone', 'mia@acme.com', 'Europe/London', $4, '08:00', '05:00', false, false, 'manager')`,
    [ANA, BO, CY, MIA],
  );
  nock(FEED_HOST).get('/feed.ics').reply(200, icsFeed(), { 'content-type': 'text/calendar' });
  const connected = await svc.briefings.connect.connectIcs(
    { id: await repId(ANA), email: 'ana@acme.com', timeZone: 'Europe/Paris' },
    `${FEED_HOST}/feed.ics`,
    'test',
  );
  expect(connected).toMatchObject({ kind: 'connected', outcome: { status: 'synced', upserted: 1 } });
});

beforeEach(() => {
  fakeAuthTest();
  // Every preview and send syncs Ana's feed again.
  nock(FEED_HOST).persist().get('/feed.ics').reply(200, icsFeed(), { 'content-type': 'text/calendar' });
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  await svc.close();
  nock.enableNetConnect();
});

describe('/briefing', () => {
  it('when someone who is not a rep runs /briefing, then they are told how to get set up', async () => {
    for (const text of ['', 'send', 'settings', 'connect google']) {
      const res = await slashCommand(svc.web, { command: COMMANDS.briefing, text, user_id: NOBODY });
      expect(res.statusCode).toBe(200);
      expect(res.json(), text).toEqual({
        response_type: 'ephemeral',
        text: expect.stringMatching(
          /^You are not set up as a rep yet: ask a manager to add you with \/reps add/,
        ),
      });
    }
  });

  it('when a rep runs /briefing, then it acks at once and then shows the next meetings from their calendar', async () => {
    const hook = responseUrl();
    const res = await slashCommand(svc.web, { command: COMMANDS.briefing, user_id: ANA });
    expect(res.json()).toEqual({ response_type: 'ephemeral', text: 'Building your briefing…' });
    const { body, text } = await answered(hook);
    expect(body.response_type).toBe('ephemeral');
    expect(text).toContain(MEETING);
    expect(text).toContain('Hank Scorpio');
    expect(text).toContain('not sent');
    expect(text).not.toContain('No meetings found');
    const blocks = body.blocks as { type: string }[];
    expect(blocks[0]?.type).toBe('header');
    expect(blocks.length).toBeLessThanOrEqual(50);
    // A preview sends nothing.
    const sent = await svc.db.query("SELECT 1 FROM messages WHERE kind = 'briefing'");
    expect(sent.rowCount).toBe(0);
  });

  it('when a rep without a calendar runs /briefing, then it says there are no meetings and how to connect one', async () => {
    const hook = responseUrl();
    await slashCommand(svc.web, { command: COMMANDS.briefing, user_id: CY });
    const { text } = await answered(hook);
    expect(text).toContain('No meetings');
    expect(text).toContain('not connected yet');
    expect(text).toContain('/briefing connect google');
  });

  it('when a rep’s calendar connection is broken, then /briefing says so and how to reconnect', async () => {
    const rep = await svc.reps.create(
      { name: 'Dora', email: 'dora@acme.com', time_zone: 'UTC', slack_user_id: 'UDORA00001' },
      { id: 'test' },
    );
    await svc.db.query(
      `INSERT INTO calendar_connections (rep_id, provider, auth_kind, status, broken_reason)
       VALUES ($1, 'ics', 'url', 'broken', 'ICS feed answered 410')`,
      [rep.id],
    );
    const hook = responseUrl();
    await slashCommand(svc.web, { command: COMMANDS.briefing, user_id: 'UDORA00001' });
    const { text } = await answered(hook);
    expect(text).toContain('can no longer read your calendar (ICS feed answered 410)');
    expect(text).toContain('/briefing connect ics');
  });

  it('when a rep runs /briefing send, then the briefing is emailed now and they are told where', async () => {
    const hook = responseUrl();
    const res = await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'send', user_id: ANA });
    expect(res.json().text).toBe('Sending your briefing to ana@acme.com…');
    const { text } = await answered(hook, 25_000);
    expect(text).toMatch(/^Sent to ana@acme\.com \(1 meeting\)/);
    const { rows } = await svc.db.query(
      `SELECT kind, subject, "to"::text AS recipients FROM messages WHERE kind = 'briefing'`,
    );
    expect(rows).toHaveLength(1);
    expect(rows[0].recipients).toContain('ana@acme.com');
  }, 30_000);

  it('when a rep without a calendar runs /briefing send, then nothing is sent and they learn why', async () => {
    const hook = responseUrl();
    await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'send', user_id: CY });
    const { text } = await answered(hook, 25_000);
    expect(text).toMatch(/^Your briefing was not sent: no calendar connected/);
    expect(text).toContain('/briefing connect google');
    const { rows } = await svc.db.query(
      `SELECT m.id FROM messages m WHERE m.kind = 'briefing' AND m."to"::text LIKE '%cy@acme.com%'`,
    );
    expect(rows).toHaveLength(0);
  }, 30_000);

  it('when a rep runs /briefing settings, then the modal opens prefilled with their settings', async () => {
    const open = slackApi('views.open');
    const res = await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'settings', user_id: ANA });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    await vi.waitFor(() => expect(open.scope.isDone()).toBe(true));
    const sent = open.captured[0] as {
      trigger_id: string;
      view: {
        callback_id: string;
        title: { text: string };
        private_metadata: string;
        blocks: { block_id: string; element: Record<string, unknown> }[];
      };
    };
    expect(sent.trigger_id).toBe('1234.5678.trigger');
    expect(sent.view.callback_id).toBe(CALLBACKS.briefingSettings);
    expect(sent.view.title.text.length).toBeLessThanOrEqual(24);
    expect(JSON.parse(sent.view.private_metadata)).toEqual({ channelId: 'C0CHANNEL1' });
    const byBlock = Object.fromEntries(sent.view.blocks.map((b) => [b.block_id, b.element]));
    expect(byBlock[BRIEFING_SETTINGS_BLOCKS.briefingTime]).toMatchObject({
      type: 'timepicker',
      initial_time: '08:00',
    });
    expect(byBlock[BRIEFING_SETTINGS_BLOCKS.prepTime]).toMatchObject({
      type: 'timepicker',
      initial_time: '05:00',
    });
    expect(byBlock[BRIEFING_SETTINGS_BLOCKS.timeZone]).toMatchObject({ initial_value: 'Europe/Paris' });
    // Both options off: Slack refuses an empty initial_options, so there is none.
    expect(byBlock[BRIEFING_SETTINGS_BLOCKS.options]?.initial_options).toBeUndefined();
    expect(sent.view).toMatchSnapshot();
  });

  function settingsValues(over: { delivery?: string; prep?: string; zone?: string; options?: string[] }) {
    return {
      [BRIEFING_SETTINGS_BLOCKS.briefingTime]: {
        value: { type: 'timepicker', selected_time: over.delivery ?? '07:30' },
      },
      [BRIEFING_SETTINGS_BLOCKS.prepTime]: {
        value: { type: 'timepicker', selected_time: over.prep ?? '04:45' },
      },
      [BRIEFING_SETTINGS_BLOCKS.timeZone]: {
        value: { type: 'plain_text_input', value: over.zone ?? 'America/Chicago' },
      },
      [BRIEFING_SETTINGS_BLOCKS.options]: {
        value: {
          type: 'checkboxes',
          selected_options: (over.options ?? []).map((value) => ({
            value,
            text: { type: 'plain_text', text: value },
          })),
        },
      },
    };
  }

  async function anaRow() {
    const { rows } = await svc.db.query(
      'SELECT briefing_time, prep_time, time_zone, slack_dm, empty_briefings FROM reps WHERE slack_user_id = $1',
      [ANA],
    );
    return rows[0];
  }

  it('when the settings modal is submitted with an unknown time zone, then the time zone field gets the error and nothing changes', async () => {
    const before = await anaRow();
    const res = await interaction(
      svc.web,
      viewSubmission(ANA, {
        callback_id: CALLBACKS.briefingSettings,
        values: settingsValues({ zone: 'Mars/Olympus_Mons' }),
      }),
    );
    expect(res.json()).toEqual({
      response_action: 'errors',
      errors: {
        [BRIEFING_SETTINGS_BLOCKS.timeZone]: expect.stringMatching(
          /^"Mars\/Olympus_Mons" is not a time zone: use an IANA name/,
        ),
      },
    });
    expect(await anaRow()).toEqual(before);
  });

  it('when the preparation time is after the delivery time, then the preparation field gets the error', async () => {
    const before = await anaRow();
    const res = await interaction(
      svc.web,
      viewSubmission(ANA, {
        callback_id: CALLBACKS.briefingSettings,
        values: settingsValues({ delivery: '07:00', prep: '07:15' }),
      }),
    );
    expect(res.json()).toEqual({
      response_action: 'errors',
      errors: {
        [BRIEFING_SETTINGS_BLOCKS.prepTime]: expect.stringMatching(
          /^The preparation time must be before the delivery time \(07:00\)/,
        ),
      },
    });
    expect(await anaRow()).toEqual(before);
  });

  it('when a time is not a time, then that field gets the error', async () => {
    const res = await interaction(
      svc.web,
      viewSubmission(ANA, {
        callback_id: CALLBACKS.briefingSettings,
        values: settingsValues({ delivery: '25:00' }),
      }),
    );
    expect(res.json().errors).toEqual({
      [BRIEFING_SETTINGS_BLOCKS.briefingTime]: expect.stringMatching(/^Pick a delivery time/),
    });
  });

  it('when valid settings are submitted, then the rep is updated, audited and told', async () => {
    const ephemeral = slackApi('chat.postEphemeral');
    const res = await interaction(
      svc.web,
      viewSubmission(ANA, {
        callback_id: CALLBACKS.briefingSettings,
        private_metadata: JSON.stringify({ channelId: 'C0CHANNEL1' }),
        values: settingsValues({ options: [BRIEFING_SETTINGS_OPTIONS.emptyBriefings] }),
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('');
    expect(await anaRow()).toEqual({
      briefing_time: '07:30',
      prep_time: '04:45',
      time_zone: 'America/Chicago',
      slack_dm: false,
      empty_briefings: true,
    });
    const audit = await svc.db.query(
      "SELECT actor FROM audit_log WHERE action = 'rep.update' AND subject = $1",
      [await repId(ANA)],
    );
    expect(audit.rows.map((r) => r.actor)).toEqual([`slack:${ANA}`]);
    await vi.waitFor(() => expect(ephemeral.scope.isDone()).toBe(true));
    expect(ephemeral.captured[0]).toMatchObject({ channel: 'C0CHANNEL1', user: ANA });
    expect(String(ephemeral.captured[0]?.text)).toContain('delivered at 07:30 (America/Chicago)');

    const open = slackApi('views.open');
    await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'settings', user_id: ANA });
    await vi.waitFor(() => expect(open.scope.isDone()).toBe(true));
    const blocks = (open.captured[0] as { view: { blocks: { element: Record<string, unknown> }[] } }).view
      .blocks;
    expect(blocks.map((b) => b.element.initial_time ?? b.element.initial_value)).toEqual([
      '07:30',
      '04:45',
      'America/Chicago',
      undefined,
    ]);
    const initial = (blocks[3]?.element.initial_options ?? []) as { value: string }[];
    expect(initial.map((o) => o.value)).toEqual([BRIEFING_SETTINGS_OPTIONS.emptyBriefings]);
  });

  it('when someone who is not a rep submits the settings modal, then it is refused inline', async () => {
    const res = await interaction(
      svc.web,
      viewSubmission(NOBODY, { callback_id: CALLBACKS.briefingSettings, values: settingsValues({}) }),
    );
    expect(res.json().errors[BRIEFING_SETTINGS_BLOCKS.timeZone]).toMatch(/not set up as a rep/);
  });
});

describe('/briefing connect', () => {
  const SECRET_PATH = '/x.ics?token=s3cr3t-feed-token&v=2';

  it('when a rep connects an ICS feed, then it syncs, says how many events, and the URL is stored encrypted and never echoed', async () => {
    const feed = nock(FEED_HOST)
      .get(SECRET_PATH)
      .reply(200, icsFeed('Pricing review with Initech'), { 'content-type': 'text/calendar' });
    const hook = responseUrl();
    // Slack wraps a pasted link in <…> and escapes & as &amp; in command text.
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: `connect ics <${FEED_HOST}/x.ics?token=s3cr3t-feed-token&amp;v=2>`,
      user_id: BO,
    });
    expect(res.json()).toEqual({ response_type: 'ephemeral', text: 'Connecting your calendar…' });
    const { text } = await answered(hook);
    expect(feed.isDone()).toBe(true);
    expect(text).toMatch(/^Connected: 1 event synced/);
    expect(text).toContain('cal.test/…');
    expect(text).not.toContain('s3cr3t');
    expect(text).not.toContain('x.ics');

    const { rows } = await svc.db.query(
      'SELECT provider, auth_kind, status, credentials FROM calendar_connections WHERE rep_id = $1',
      [await repId(BO)],
    );
    expect(rows[0]).toMatchObject({ provider: 'ics', auth_kind: 'url', status: 'active' });
    expect(rows[0].credentials).toMatch(/^v1\./);
    expect(rows[0].credentials).not.toContain('s3cr3t');
    expect(rows[0].credentials).not.toContain('cal.test');
    expect(svc.log.lines().join('\n')).not.toContain('s3cr3t');
    const events = await svc.db.query('SELECT count(*)::int AS n FROM calendar_events WHERE rep_id = $1', [
      await repId(BO),
    ]);
    expect(events.rows[0].n).toBe(1);
  });

  it('when the feed answers 404, then the rep learns the calendar cannot be read and what to do, without the URL', async () => {
    nock(FEED_HOST).get(SECRET_PATH).reply(404, 'Not Found');
    const hook = responseUrl();
    await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: `connect ics ${FEED_HOST}/x.ics?token=s3cr3t-feed-token&amp;v=2`,
      user_id: BO,
    });
    const { text } = await answered(hook);
    expect(text).toMatch(
      /^Your ICS feed is saved, but Briefly cannot read it: The ICS feed answered HTTP 404/,
    );
    expect(text).toContain('private ICS/iCal address');
    expect(text).not.toContain('s3cr3t');
    expect(svc.log.lines().join('\n')).not.toContain('s3cr3t');
  });

  it('when the ICS argument is not a URL, then the rep is told what to paste', async () => {
    const hook = responseUrl();
    await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'connect ics not-a-url', user_id: BO });
    const { text } = await answered(hook);
    expect(text).toMatch(/^The feed URL is not a URL; paste the calendar's ICS\/iCal address/);
  });

  it('when the ICS URL uses another scheme, then it is refused', async () => {
    const hook = responseUrl();
    await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: 'connect ics ftp://cal.test/x.ics',
      user_id: BO,
    });
    const { text } = await answered(hook);
    expect(text).toMatch(/^The feed URL must start with https:\/\/, http:\/\/ or webcal:\/\//);
  });

  it('when the ICS URL or the provider is missing, then the usage is shown without calling anything', async () => {
    const missing = await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: 'connect ics',
      user_id: BO,
    });
    expect(missing.json().text).toMatch(/^Paste your calendar's ICS address after the command/);
    const bare = await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'connect', user_id: BO });
    expect(JSON.stringify(bare.json().blocks)).toContain('connect microsoft');
    const other = await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: 'connect yahoo',
      user_id: BO,
    });
    expect(other.json().text).toBe('I can\'t connect "yahoo": choose google, microsoft or ics.');
  });

  it('when Google is not configured, then connect google says it is not set up', async () => {
    const hook = responseUrl();
    await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'connect google', user_id: BO });
    const { text } = await answered(hook);
    expect(text).toMatch(/^Google Calendar is not set up on this Briefly: an admin must set/);
  });

  it('when Microsoft is not configured, then connect microsoft says it is not set up', async () => {
    const hook = responseUrl();
    await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'connect microsoft', user_id: BO });
    const { text } = await answered(hook);
    expect(text).toMatch(/^Microsoft 365 is not set up on this Briefly/);
  });
});

describe('/briefing preview @rep', () => {
  it('when a rep previews someone else, then they are refused', async () => {
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: `preview <@${ANA}|ana>`,
      user_id: BO,
    });
    expect(res.json()).toEqual({
      response_type: 'ephemeral',
      text: expect.stringMatching(/^Only Briefly admins and managers can preview another rep's briefing/),
    });
  });

  it("when a manager previews a rep, then they see that rep's meetings, marked as a preview of them", async () => {
    const hook = responseUrl();
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: `preview <@${ANA}|ana>`,
      user_id: MIA,
    });
    expect(res.json().text).toBe(`Building <@${ANA}>'s briefing…`);
    const { text } = await answered(hook);
    expect(text).toContain(MEETING);
    expect(text).toContain(`Preview of <@${ANA}>'s briefing`);
  });

  it('when a manager previews a user who is not a rep, then they are told so', async () => {
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: `preview <@${NOBODY}>`,
      user_id: MIA,
    });
    expect(res.json().text).toMatch(new RegExp(`^<@${NOBODY}> is not set up as a rep`));
  });

  it('when the preview argument is not a mention, then the usage is shown', async () => {
    const res = await slashCommand(svc.web, {
      command: COMMANDS.briefing,
      text: 'preview ana',
      user_id: MIA,
    });
    expect(res.json().text).toMatch(/^Mention the rep whose briefing you want to see/);
  });
});

describe('/briefing help', () => {
  it('when a rep asks for help, then the usage lists what they may do (without the manager preview)', async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'help', user_id: BO });
    const body = res.json();
    expect(body.response_type).toBe('ephemeral');
    expect(JSON.stringify(body.blocks)).not.toContain('preview @rep');
    expect(body).toMatchSnapshot();
  });

  it('when a manager types an unknown subcommand, then it says so and lists the manager preview too', async () => {
    const res = await slashCommand(svc.web, { command: COMMANDS.briefing, text: 'dance', user_id: MIA });
    const text = JSON.stringify(res.json().blocks);
    expect(text).toContain("I don't know `/briefing dance`");
    expect(text).toContain('preview @rep');
  });
});

describe('/briefing connect google with OAuth configured', () => {
  let oauth: TestService;
  beforeAll(async () => {
    oauth = await startTestService({
      GOOGLE_CLIENT_ID: 'client-123.apps.googleusercontent.com',
      GOOGLE_CLIENT_SECRET: 'google-secret',
      PUBLIC_URL: 'https://briefly.example.com',
    });
    await oauth.db.query(
      `INSERT INTO reps (name, email, time_zone, slack_user_id) VALUES ('Ana Lima', 'ana@acme.com', 'Europe/Paris', $1)`,
      [ANA],
    );
  });
  afterAll(async () => {
    await oauth.close();
  });

  it('when a rep connects Google, then they get a consent link button, and its click is acked', async () => {
    const hook = responseUrl();
    await slashCommand(oauth.web, { command: COMMANDS.briefing, text: 'connect google', user_id: ANA });
    const { body } = await answered(hook);
    const button = (body.blocks as { type: string; elements?: Record<string, unknown>[] }[]).find(
      (b) => b.type === 'actions',
    )?.elements?.[0] as { action_id: string; url: string; text: { text: string } };
    expect(button.action_id).toBe(ACTIONS.calendarConnectLink);
    expect(button.text.text).toBe('Connect Google Calendar');
    const url = new URL(button.url);
    expect(url.origin).toBe('https://accounts.google.com');
    expect(url.searchParams.get('client_id')).toBe('client-123.apps.googleusercontent.com');
    expect(url.searchParams.get('redirect_uri')).toBe('https://briefly.example.com/oauth/google/callback');
    expect(url.searchParams.get('state')).toMatch(/^[0-9a-f-]{36}\.\d+\./);

    const click = await interaction(
      oauth.web,
      blockAction(ANA, { action_id: ACTIONS.calendarConnectLink, url: button.url }),
    );
    expect(click.statusCode).toBe(200);
    expect(click.body).toBe('');
  });
});
