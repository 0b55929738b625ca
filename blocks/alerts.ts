import type { KnownBlock } from '@slack/types';
import { context, escapeMrkdwn, header, section, truncate } from './common.ts';

type Alert = { text: string; blocks: KnownBlock[] };

const time = (at: Date) =>
  `<!date^${Math.floor(at.getTime() / 1000)}^{date_short_pretty} {time}|${at.toISOString()}>`;

/**
 * Failures of one reason. The incident's parent (with `since`) shows the running total and is edited
 * as follow-ups (`followUp`: the new failures since the last post) arrive in its thread.
 */
export function permanentFailureAlert(data: {
  reason: string;
  count: number;
  examples: { messageId: string; to: string }[];
  windowMinutes: number;
  since?: Date;
  followUp?: boolean;
}): Alert {
  const plural = data.count === 1 ? 'message' : 'messages';
  const more = data.followUp ? ' more' : '';
  const examples = data.examples
    .slice(0, 5)
    .map((e) => `• \`${e.messageId}\` to ${escapeMrkdwn(truncate(e.to, 200))}`)
    .join('\n');
  const since = data.since ? ` since ${time(data.since)}` : '';
  return {
    text: `${data.count}${more} ${plural} failed: ${truncate(data.reason, 200)}`,
    blocks: [
      ...(data.followUp ? [] : [header('Delivery failures')]),
      section(
        `:x: *${data.count}${more} ${plural} failed* permanently${since}\n>${escapeMrkdwn(truncate(data.reason, 1000))}`,
      ),
      ...(examples ? [section(`Examples:\n${examples}`)] : []),
      ...(data.followUp
        ? []
        : [
            context(
              `Follow-ups go in this thread, at most one every ${data.windowMinutes} min. See one with \`/briefly message <id>\`; re-send with \`POST /v1/messages/redrive\`.`,
            ),
          ]),
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
  /** Set on the outage's parent message once the provider is back: it is edited to say so. */
  resolvedAt?: Date;
}): Alert {
  if (data.to === 'open' && data.resolvedAt) {
    const minutes = Math.max(1, Math.round((data.resolvedAt.getTime() - data.at.getTime()) / 60_000));
    return {
      text: `${data.provider} was failing for ${minutes} min; resolved`,
      blocks: [
        section(
          `:white_check_mark: *${data.provider}* was failing for ${minutes} min, back since ${time(data.resolvedAt)}.\n>${escapeMrkdwn(truncate(data.reason, 500))}`,
        ),
        context(
          `Swapped out by ${escapeMrkdwn(data.actor)} at ${time(data.at)}. The thread has the details.`,
        ),
      ],
    };
  }
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

const CHANNEL_FIX: Record<string, string> = {
  not_in_channel: 'I am not a member of it. Type `/invite @Briefly` in that channel',
  channel_not_found:
    'I cannot see it (it was deleted, or it is private and I was never invited). Invite me with `/invite @Briefly`, or pick another channel',
  is_archived: 'it is archived. Unarchive it, or pick another channel',
};

/** The one DM each admin gets when a channel setting points at a channel Briefly cannot post to. */
export function channelProblemDm(data: { label: string; channelId: string; error: string }): Alert {
  const fix = CHANNEL_FIX[data.error] ?? `Slack answered \`${data.error}\`. Pick another channel`;
  return {
    text: `Briefly cannot post to the ${data.label.toLowerCase()} <#${data.channelId}> (${data.error}); posts are waiting.`,
    blocks: [
      section(
        `:warning: *I cannot post to the ${escapeMrkdwn(data.label.toLowerCase())}* <#${data.channelId}>: ${fix}, then save \`/briefly settings\` again.`,
      ),
      context(
        `Slack said \`${escapeMrkdwn(data.error)}\`. What should have been posted there is kept and goes out as soon as the setting is saved and the channel works.`,
      ),
    ],
  };
}

/** Appended to an admin's DM copy of a post whose channel setting is not set. */
export function unsetChannelNote(label: string): KnownBlock {
  return context(
    `:information_source: You get this by DM because no ${escapeMrkdwn(label.toLowerCase())} is set. Choose one with \`/briefly settings\`.`,
  );
}
