import type { KnownBlock } from '@slack/types';
import { context, escapeMrkdwn, header, section, truncate } from './common.ts';

type Post = { text: string; blocks: KnownBlock[] };

const PROVIDER_NAMES: Record<string, string> = {
  google: 'Google Calendar',
  microsoft: 'Microsoft 365',
  ics: 'ICS feed',
};

const reconnectHow: Record<string, string> = {
  google: '`/briefing connect google`',
  microsoft: '`/briefing connect microsoft`',
  ics: '`/briefing connect ics <new feed URL>`',
};

/** To the rep: their calendar stopped working and how to fix it. */
export function calendarBrokenDm(data: { provider: string; reason: string }): Post {
  const name = PROVIDER_NAMES[data.provider] ?? data.provider;
  return {
    text: `Briefly can no longer read your ${name}. Reconnect it with ${reconnectHow[data.provider] ?? '/briefing connect'}.`,
    blocks: [
      section(
        `:calendar: *Briefly can no longer read your ${name}.*\n>${escapeMrkdwn(truncate(data.reason, 500))}\nYour morning briefing needs it: reconnect with ${reconnectHow[data.provider] ?? '`/briefing connect`'}.`,
      ),
    ],
  };
}

/** To the alert channel, once per broken connection. */
export function calendarBrokenAlert(data: {
  rep: { name: string; email: string };
  provider: string;
  reason: string;
}): Post {
  const name = PROVIDER_NAMES[data.provider] ?? data.provider;
  return {
    text: `${data.rep.name}'s ${name} connection is broken: ${truncate(data.reason, 200)}`,
    blocks: [
      header('Calendar connection broken'),
      section(
        `*${escapeMrkdwn(data.rep.name)}* (${escapeMrkdwn(data.rep.email)}): ${name}\n>${escapeMrkdwn(truncate(data.reason, 500))}`,
      ),
      context('The rep was told how to reconnect. Other reps are not affected.'),
    ],
  };
}
