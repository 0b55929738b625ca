import type { KnownBlock } from '@slack/types';
import { context, escapeMrkdwn, header, section, truncate } from './common.ts';

type Alert = { text: string; blocks: KnownBlock[] };

const time = (at: Date) =>
  `<!date^${Math.floor(at.getTime() / 1000)}^{date_short_pretty} {time}|${at.toISOString()}>`;

/** One post per failure reason per window: the count, the reason and a few examples. */
export function permanentFailureAlert(data: {
  reason: string;
  count: number;
  examples: { messageId: string; to: string }[];
  windowMinutes: number;
}): Alert {
  const plural = data.count === 1 ? 'message' : 'messages';
  const examples = data.examples
    .slice(0, 5)
    .map((e) => `• \`${e.messageId}\` to ${escapeMrkdwn(truncate(e.to, 200))}`)
    .join('\n');
  return {
    text: `${data.count} ${plural} failed: ${truncate(data.reason, 200)}`,
    blocks: [
      header('Delivery failures'),
      section(
        `:x: *${data.count} ${plural} failed* permanently\n>${escapeMrkdwn(truncate(data.reason, 1000))}`,
      ),
      ...(examples ? [section(`Examples:\n${examples}`)] : []),
      context(
        `At most one post per reason every ${data.windowMinutes} min. See one with \`/briefly message <id>\`; re-send with \`POST /v1/messages/redrive\`.`,
      ),
    ],
  };
}

export function providerSwapAlert(data: {
  provider: string;
  to: 'open' | 'closed';
  reason: string;
  actor: string;
  at: Date;
  next?: string;
}): Alert {
  if (data.to === 'open') {
    const where = data.next
      ? `mail now goes through *${data.next}*`
      : 'no other provider is available: mail is retried';
    return {
      text: `${data.provider} is failing; ${data.next ? `mail now goes through ${data.next}` : 'no backup available'}`,
      blocks: [
        section(
          `:rotating_light: *${data.provider}* is failing, ${where}.\n>${escapeMrkdwn(truncate(data.reason, 500))}`,
        ),
        context(
          `Swapped by ${escapeMrkdwn(data.actor)} at ${time(data.at)}. Briefly probes it and swaps back when it answers.`,
        ),
      ],
    };
  }
  return {
    text: `${data.provider} is back; traffic swapped back`,
    blocks: [
      section(`:white_check_mark: *${data.provider}* is back, traffic swapped back to it.`),
      context(
        `Restored by ${escapeMrkdwn(data.actor)} at ${time(data.at)}: ${escapeMrkdwn(truncate(data.reason, 200))}`,
      ),
    ],
  };
}

export function backlogAlert(data: { queue: string; depth: number; threshold: number }): Alert {
  return {
    text: `${data.depth} sends waiting in ${data.queue} (threshold ${data.threshold})`,
    blocks: [
      section(
        `:hourglass_flowing_sand: *${data.depth}* jobs are waiting in \`${data.queue}\`, over the alert threshold of ${data.threshold}. Workers may be down or too few.`,
      ),
      context('Check `/briefly deliveries`; add worker processes with `briefly start --role worker`.'),
    ],
  };
}
