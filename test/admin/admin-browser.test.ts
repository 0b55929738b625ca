import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DateTime } from 'luxon';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOidcIssuer, freePort } from '../helpers/oidc.ts';
import { FakeSendApi, fakeJwt } from '../helpers/send-api.ts';
import { startTestService, type TestService } from '../helpers/service.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The README's screenshot: written to docs/ with UPDATE_SCREENSHOT=1 (then committed), else to a
 * temporary file, so a test run does not leave the working tree modified.
 */
const SCREENSHOT =
  process.env.UPDATE_SCREENSHOT === '1'
    ? join(ROOT, 'docs', 'admin-ui.png')
    : join(tmpdir(), `briefly-admin-ui-${process.pid}.png`);
const TEAM = 'T0BRIEFLY';
const SIGNED_IN = 'U0DANA0001';

/**
 * Chromium from CHROMIUM_PATH, else the first of the usual names on PATH. Missing is a failure with
 * the fix, never a skip (.ci/run installs Debian's chromium when it is absent).
 */
function chromiumPath(): string {
  const given = process.env.CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist`);
    return given;
  }
  for (const name of ['chromium', 'chromium-browser', 'google-chrome-stable', 'google-chrome']) {
    try {
      const path = execFileSync('which', [name], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not this one
    }
  }
  throw new Error(
    'Chromium was not found: the admin UI browser test needs it. Install it (apt-get install -y chromium; .ci/run does this) or set CHROMIUM_PATH to a Chrome/Chromium binary.',
  );
}

const issuer = new FakeOidcIssuer();
const sendApi = new FakeSendApi();
let svc: TestService;
let browser: Browser;
let base: string;
let running: number;

async function until<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 40_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const executablePath = chromiumPath();
  await issuer.start();
  const sendUrl = await sendApi.start();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  svc = await startTestService({
    PORT: String(port),
    PUBLIC_URL: base,
    // Slack itself is not needed: the workspace is named, the fake issuer plays Slack's OIDC.
    SLACK_BOT_TOKEN: '',
    SLACK_SIGNING_SECRET: '',
    OIDC_ISSUER_URL: issuer.url,
    OIDC_PROVIDER: 'slack',
    OIDC_SLACK_TEAM_ID: TEAM,
    OIDC_CLIENT_ID: issuer.clientId,
    OIDC_CLIENT_SECRET: issuer.clientSecret,
    ADMIN_SESSION_SECRET: 'browser-test-session-secret-0123456789',
    SEND_API_URL: sendUrl,
    SEND_API_TOKEN: fakeJwt(Math.floor(Date.now() / 1000) + 30 * 86_400),
    SEND_API_RETRY_BASE_MS: '50',
  });

  // Customers in three zones; the running mailout's sending hours are open now in Kolkata only.
  const zones = [
    ['Asia/Kolkata', '916'],
    ['Asia/Kolkata', '903'],
    ['Asia/Kolkata', '916'],
    ['Asia/Kolkata', '916'],
    ['America/New_York', '903'],
    ['America/New_York', '916'],
    ['America/New_York', '903'],
    ['Europe/London', '916'],
    ['Europe/London', '903'],
  ];
  for (const [i, [zone, operator]] of zones.entries()) {
    await svc.db.query(
      `INSERT INTO customers (phone, operator_code, tag, time_zone) VALUES ($1, $2, 'spring', $3)`,
      [`7${operator}55500${String(i).padStart(2, '0')}`, operator, zone],
    );
  }
  const kolkataNow = DateTime.now().setZone('Asia/Kolkata');
  const now = new Date();
  // No manager yet: the first mailout is approved on creation and starts at once.
  const spring = await svc.mailouts.service.create(
    {
      name: 'Spring offer',
      text: 'Spring is here: -15% on every plan until Friday.',
      starts_at: new Date(now.getTime() - 60_000),
      ends_at: new Date(now.getTime() + 3 * 86_400_000),
      filter: { operator_codes: [], tags: ['spring'] },
      window: {
        from: kolkataNow.minus({ minutes: 60 }).toFormat('HH:mm'),
        to: kolkataNow.plus({ minutes: 60 }).toFormat('HH:mm'),
      },
      created_by: 'U0RAVI0001',
      submit: true,
    },
    'U0RAVI0001',
  );
  running = spring.id;
  await until(async () => {
    const stats = await svc.mailouts.service.stats(running);
    return stats.status === 'running' && stats.counts.sent === 4;
  }, 'the spring mailout sends to Kolkata');

  await svc.db.query(
    `INSERT INTO reps (slack_user_id, name, email, time_zone, role) VALUES
       ('U0DANA0001', 'Dana Scott', 'dana@acme.test', 'America/New_York', 'admin'),
       ('U0MEERA001', 'Meera Iyer', 'meera@acme.test', 'Asia/Kolkata', 'manager')`,
  );
  await svc.mailouts.service.create(
    {
      name: 'Diwali wishes',
      text: 'Happy Diwali from all of us.',
      starts_at: new Date(now.getTime() + 5 * 86_400_000),
      ends_at: new Date(now.getTime() + 6 * 86_400_000),
      filter: { operator_codes: ['916'], tags: [] },
      window: { from: '10:00', to: '20:00' },
      created_by: 'U0RAVI0001',
      submit: true,
    },
    'U0RAVI0001',
  );
  await svc.mailouts.service.create(
    {
      name: 'Summer sale (draft)',
      text: 'Summer sale: details to come.',
      starts_at: new Date(now.getTime() + 30 * 86_400_000),
      ends_at: new Date(now.getTime() + 31 * 86_400_000),
      created_by: SIGNED_IN,
      submit: false,
    },
    SIGNED_IN,
  );

  issuer.user = {
    sub: SIGNED_IN,
    'https://slack.com/user_id': SIGNED_IN,
    'https://slack.com/team_id': TEAM,
    name: 'Dana Scott',
    email: 'dana@acme.test',
    email_verified: true,
  };
  browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await svc?.close();
  await issuer.stop();
  await sendApi.stop();
}, 60_000);

async function navigate(page: Page, action: () => Promise<unknown>) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load', timeout: 40_000 }), action()]);
}

// The test compiles without the DOM library; these are the few shapes the page callbacks use.
type Node = { textContent: string | null };
type Parent = { children: ArrayLike<Node> };
type Table = { caption: Node | null; tBodies: ArrayLike<{ rows: ArrayLike<Node> }> };
type Styles = { getComputedStyle(element: unknown): { backgroundColor: string } };

const text = (page: Page, selector: string) =>
  page.$eval(selector, (element) => (element.textContent ?? '').replace(/\s+/g, ' ').trim());

describe('admin web UI in a real browser', () => {
  it('when an admin signs in, sees the list, opens a mailout, pauses it and signs out, then each step shows and a later visit is sent to sign-in', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(40_000);
    await page.setViewport({ width: 1280, height: 900 });
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    const assets: Record<string, number> = {};
    page.on('response', (response) => {
      const path = new URL(response.url()).pathname;
      if (path.startsWith('/admin/assets/')) assets[path] = response.status();
    });

    // Not signed in: sent to the sign-in page.
    await page.goto(`${base}/admin/mailouts`, { waitUntil: 'load' });
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    expect(await text(page, 'h1')).toBe('Sign in');

    // Sign in with "Slack" (the fake issuer): back on the list.
    await navigate(page, () => page.click('a.button.primary'));
    expect(new URL(page.url()).pathname).toBe('/admin/mailouts');
    expect(await text(page, 'h1')).toBe('Mailouts');
    expect(await text(page, '.who')).toContain('Signed in as Dana Scott');
    expect(await text(page, '.who')).toContain('Times in America/New_York');
    expect(await text(page, 'table caption')).toBe('Mailouts, newest first');
    const rows = await page.$$eval('tbody tr', (trs) =>
      trs.map((tr) =>
        Array.from((tr as unknown as Parent).children).map((c) => (c.textContent ?? '').trim()),
      ),
    );
    expect(rows.map((r) => [r[0], r[1]])).toEqual([
      ['Summer sale (draft)', 'draft'],
      ['Diwali wishes', 'pending approval'],
      ['Spring offer', 'running'],
    ]);
    // Messages, pending, sent for the running one.
    expect(rows[2]?.slice(4, 7)).toEqual(['9', '5', '4']);
    // Our own stylesheet and script load under the page's CSP.
    expect(
      await page.$eval(
        '.top',
        (element) => (globalThis as unknown as Styles).getComputedStyle(element).backgroundColor,
      ),
    ).toBe('rgb(29, 35, 48)');

    // Open the running mailout.
    await navigate(page, () => page.click(`a[href="/admin/mailouts/${running}"]`));
    expect(await text(page, 'h1')).toBe('Spring offer');
    expect(await text(page, '#summary-h .badge')).toBe('running');
    const captions = await page.$$eval('caption', (cs) => cs.map((c) => (c.textContent ?? '').trim()));
    expect(captions).toEqual(
      expect.arrayContaining([
        'By status',
        'By time zone',
        'By operator',
        'Sent by hour (America/New_York)',
        'Messages of this mailout, by id',
      ]),
    );
    const byZone = await page.$$eval('table', (tables) =>
      (tables as unknown as Table[])
        .filter((t) => t.caption?.textContent === 'By time zone')
        .flatMap((t) =>
          Array.from(t.tBodies[0]?.rows ?? []).map((r) => (r.textContent ?? '').replace(/\s+/g, ' ').trim()),
        ),
    );
    expect(byZone.some((row) => row.startsWith('Asia/Kolkata'))).toBe(true);
    expect(byZone).toHaveLength(3);

    // Pause it.
    await navigate(page, () => page.click(`form[action="/admin/mailouts/${running}/pause"] button`));
    expect(await text(page, '.notice')).toContain('Mailout paused');
    expect(await text(page, '#summary-h .badge')).toBe('paused');
    expect((await svc.mailouts.service.get(running)).status).toBe('paused');
    expect(await page.$(`form[action="/admin/mailouts/${running}/resume"] button`)).not.toBeNull();

    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).toBe('PNG');

    // Sign out: the session row goes, and the next visit is sent to sign-in.
    await navigate(page, () => page.click('form[action="/admin/logout"] button'));
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    expect(await text(page, '.notice')).toBe('You are signed out.');
    const { rows: sessions } = await svc.db.query('SELECT 1 FROM admin_sessions WHERE actor = $1', [
      SIGNED_IN,
    ]);
    expect(sessions).toHaveLength(0);
    await page.goto(`${base}/admin/mailouts/${running}`, { waitUntil: 'load' });
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in');
    expect(new URL(page.url()).searchParams.get('return_to')).toBe(`/admin/mailouts/${running}`);

    expect(assets).toEqual({ '/admin/assets/admin.css': 200, '/admin/assets/admin.js': 200 });
    expect(violations).toEqual([]);
    await page.close();
  }, 120_000);
});
