import type { KnownBlock } from '@slack/types';
import { context, escapeMrkdwn, header, section, truncate } from './common.ts';

type Alert = { text: string; blocks: KnownBlock[] };

/** The send API's circuit opened (sending paused) or closed again (a probe succeeded). */
export function sendApiCircuitAlert(data: { to: 'open' | 'closed'; reason: string; at: Date }): Alert {
  const open = data.to === 'open';
  const text = open
    ? `Send API is failing: mailout sending is paused (${truncate(data.reason, 200)})`
    : 'Send API recovered: mailout sending resumed';
  return {
    text,
    blocks: [
      header(open ? 'Send API down: mailouts paused' : 'Send API recovered'),
      section(
        open
          ? `:red_circle: Mailout sending is paused. Last error:\n>${escapeMrkdwn(truncate(data.reason, 1000))}`
          : ':large_green_circle: A probe succeeded; mailout sending resumed by itself.',
      ),
      context(
        open
          ? 'Briefly probes the send API and resumes on its own; messages wait (never past their mailout end).'
          : `Recovered at ${data.at.toISOString()}.`,
      ),
    ],
  };
}

export function sendApiTokenAlert(data: { expiresAt: Date; days: number }): Alert {
  const when = data.expiresAt.toISOString();
  const text =
    data.days <= 0
      ? `SEND_API_TOKEN expired at ${when}: mailouts cannot be sent`
      : `SEND_API_TOKEN expires in ${data.days} day(s) (${when})`;
  return {
    text,
    blocks: [
      header('Send API token expiring'),
      section(`:warning: ${escapeMrkdwn(text)}. Ask the vendor for a new token and set \`SEND_API_TOKEN\`.`),
    ],
  };
}
