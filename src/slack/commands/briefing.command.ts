import type { App, RespondFn } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import {
  authorizeMessage,
  briefingPreviewMessage,
  briefingSettingsView,
  briefingUsageMessage,
  connectedMessage,
  connectHint,
  connectUsageMessage,
  maskFeedUrl,
  NOT_A_REP,
  NOT_ALLOWED_PREVIEW,
  sendResultMessage,
} from '../../../blocks/briefing-settings.ts';
import { ACTIONS, COMMANDS } from '../../../blocks/ids.ts';
import type { ConnectResult } from '../../calendars/calendar-connect.service.ts';
import { isAppError } from '../../errors.ts';
import type { RepRow } from '../../reps/rep.repository.ts';
import type { SlackDeps } from '../deps.ts';

const MENTION = /^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;

const SOMETHING_WENT_WRONG =
  "Something went wrong on Briefly's side. Try again in a minute; if it keeps happening, tell an admin.";

/** `<@U123|ana>` and `<@U123>` (escaped mentions), or a bare user id. */
export function parseUserMention(raw: string): string | undefined {
  const text = raw.trim();
  return MENTION.exec(text)?.[1] ?? (USER_ID.test(text) ? text : undefined);
}

/**
 * Slack sends a pasted link as `<url>` or `<url|label>` and always escapes `&`, `<` and `>` in
 * command text, so a feed URL with a query (`?a=1&b=2`) arrives as `?a=1&amp;b=2`.
 */
export function feedUrlArgument(raw: string): string {
  const inner =
    raw
      .trim()
      .replace(/^<(.*)>$/, '$1')
      .split('|')[0] ?? '';
  return inner.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** Every spelling of a secret URL that could appear in a message, replaced by its masked form. */
function scrubber(raw: string | undefined): (text: string) => string {
  if (!raw) return (text) => text;
  const decoded = feedUrlArgument(raw);
  const variants = new Set([raw.trim(), decoded]);
  try {
    variants.add(new URL(decoded.replace(/^webcal:/i, 'https:')).toString());
  } catch {
    // not a URL: nothing more to hide
  }
  const masked = maskFeedUrl(decoded);
  return (text) => {
    let out = text;
    for (const variant of [...variants].filter((v) => v.length >= 8).sort((a, b) => b.length - a.length)) {
      out = out.split(variant).join(masked);
    }
    return out;
  };
}

function errorText(error: unknown, scrub: (text: string) => string = (t) => t): string | undefined {
  if (!isAppError(error)) return undefined;
  if (error.code === 'validation_failed' && error.fields.length > 0) {
    return scrub(
      error.fields
        .map((f) => (f.field === 'url' ? `The feed URL ${f.message}.` : `${f.field} ${f.message}.`))
        .join(' '),
    );
  }
  if (error.code === 'internal') return undefined;
  return scrub(error.message);
}

export function register(app: App, deps: SlackDeps): void {
  const log = deps.logger.child({ component: 'slack', command: COMMANDS.briefing });

  /** Work that runs after the ack: every failure becomes an ephemeral message, never a silence. */
  async function answerLater(
    respond: RespondFn,
    what: string,
    work: () => Promise<{ text: string; blocks?: KnownBlock[] }>,
    scrub: (text: string) => string = (t) => t,
  ): Promise<void> {
    let message: { text: string; blocks?: KnownBlock[] };
    try {
      message = await work();
    } catch (error) {
      const known = errorText(error, scrub);
      if (!known) log.error(`${what} failed`, { error: scrub((error as Error).message ?? String(error)) });
      message = { text: known ?? SOMETHING_WENT_WRONG };
    }
    await respond({ response_type: 'ephemeral', ...message }).catch((error: Error) =>
      log.warn(`${what}: answer not posted`, { error: error.message }),
    );
  }

  const previewOf = async (rep: RepRow, viewer: string) => {
    const [model, calendar] = await Promise.all([
      deps.briefings.preview(rep.id),
      deps.calendarConnect.status(rep.id),
    ]);
    const own = rep.slackUserId === viewer;
    return briefingPreviewMessage(model, {
      previewOf: own ? undefined : (rep.slackUserId ?? undefined),
      connectHint: connectHint(rep.calendarSource, own, calendar),
    });
  };

  app.command(COMMANDS.briefing, async ({ command, ack, respond, client }) => {
    const [first = '', ...args] = command.text.trim().split(/\s+/);
    const sub = first.toLowerCase();
    const user = command.user_id;
    const actor = `slack:${user}`;

    if (sub === 'help') {
      await ack({
        response_type: 'ephemeral',
        ...briefingUsageMessage({ canManage: await deps.reps.canManageReps(user) }),
      });
      return;
    }
    if (!['', 'send', 'settings', 'connect', 'preview'].includes(sub)) {
      await ack({
        response_type: 'ephemeral',
        ...briefingUsageMessage({
          canManage: await deps.reps.canManageReps(user),
          unknown: command.text.trim(),
        }),
      });
      return;
    }

    // Someone else's briefing: the caller need not be a rep (admins in SLACK_ADMIN_USER_IDS may not be).
    if (sub === 'preview' && args.length > 0) {
      const target = parseUserMention(args.join(' '));
      if (!target) {
        await ack({
          response_type: 'ephemeral',
          text: `Mention the rep whose briefing you want to see: \`${COMMANDS.briefing} preview @name\`.`,
        });
        return;
      }
      if (target !== user && !(await deps.reps.canManageReps(user))) {
        await ack({ response_type: 'ephemeral', text: NOT_ALLOWED_PREVIEW });
        return;
      }
      const rep = await deps.reps.bySlackUser(target);
      if (!rep) {
        await ack({
          response_type: 'ephemeral',
          text: `<@${target}> is not set up as a rep, so there is no briefing to preview. A manager can add them with /reps add.`,
        });
        return;
      }
      await ack({ response_type: 'ephemeral', text: `Building <@${target}>'s briefing…` });
      await answerLater(respond, 'briefing preview', () => previewOf(rep, user));
      return;
    }

    const rep = await deps.reps.bySlackUser(user);
    if (!rep) {
      await ack({ response_type: 'ephemeral', text: NOT_A_REP });
      return;
    }

    switch (sub) {
      case '':
      case 'preview': {
        // Preview syncs the calendar first, which can take longer than Slack's 3 s.
        await ack({ response_type: 'ephemeral', text: 'Building your briefing…' });
        await answerLater(respond, 'briefing preview', () => previewOf(rep, user));
        return;
      }
      case 'send': {
        await ack({ response_type: 'ephemeral', text: `Sending your briefing to ${rep.email}…` });
        await answerLater(respond, 'briefing send', async () => {
          const result = await deps.briefings.sendNow(rep.id);
          const row = (await deps.briefings.list(rep.id, 1)).find((b) => b.id === result.briefingId);
          return sendResultMessage({
            status: result.status,
            email: rep.email,
            reason: row?.reason,
            meetingCount: row?.meeting_count,
          });
        });
        return;
      }
      case 'settings': {
        await ack();
        try {
          await client.views.open({
            trigger_id: command.trigger_id,
            view: briefingSettingsView({
              briefingTime: rep.briefingTime,
              prepTime: rep.prepTime,
              timeZone: rep.timeZone,
              slackDm: rep.slackDm,
              emptyBriefings: rep.emptyBriefings,
              privateMetadata: JSON.stringify({ channelId: command.channel_id }),
            }),
          });
        } catch (error) {
          log.warn('briefing settings modal not opened', { error: (error as Error).message });
          await respond({
            response_type: 'ephemeral',
            text: `The settings could not be opened (Slack gives a command 3 seconds to open a window). Run \`${COMMANDS.briefing} settings\` again.`,
          }).catch(() => undefined);
        }
        return;
      }
      case 'connect': {
        const kind = args[0]?.toLowerCase() ?? '';
        const target = { id: rep.id, email: rep.email, timeZone: rep.timeZone };
        let connect: (() => Promise<ConnectResult>) | undefined;
        let raw: string | undefined;
        if (kind === 'google') connect = () => deps.calendarConnect.connectGoogle(target, actor);
        if (kind === 'microsoft' || kind === 'outlook' || kind === 'office365')
          connect = () => deps.calendarConnect.connectMicrosoft(target, actor);
        if (kind === 'ics' || kind === 'ical') {
          raw = args.slice(1).join(' ').trim() || undefined;
          const url = raw;
          if (url) connect = () => deps.calendarConnect.connectIcs(target, feedUrlArgument(url), actor);
        }
        if (!connect) {
          const problem =
            kind === 'ics' || kind === 'ical'
              ? `Paste your calendar's ICS address after the command: ${COMMANDS.briefing} connect ics https://…`
              : kind
                ? `I can't connect "${kind.slice(0, 40)}": choose google, microsoft or ics.`
                : undefined;
          await ack({ response_type: 'ephemeral', ...connectUsageMessage(problem) });
          return;
        }
        const scrub = scrubber(raw);
        const source = raw ? maskFeedUrl(feedUrlArgument(raw)) : undefined;
        await ack({ response_type: 'ephemeral', text: 'Connecting your calendar…' });
        const run = connect;
        await answerLater(
          respond,
          'calendar connect',
          async () => {
            const result = await run();
            if (result.kind === 'authorize') return authorizeMessage(result.provider, result.url);
            // Slack connects with the first sync run now; a queued one only comes from the API.
            if (result.kind === 'queued') return { text: 'Calendar connected; the first sync is queued.' };
            const outcome =
              result.outcome.status === 'broken'
                ? { ...result.outcome, reason: scrub(result.outcome.reason) }
                : result.outcome;
            return connectedMessage({ provider: result.provider, outcome, source });
          },
          scrub,
        );
      }
    }
  });

  // A url button still posts its click to the request URL; Slack wants a 200 and nothing else.
  app.action(ACTIONS.calendarConnectLink, async ({ ack }) => {
    await ack();
  });
}
