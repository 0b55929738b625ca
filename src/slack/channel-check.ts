import { isAppError } from '../errors.ts';
import { SlackCallError, type SlackPoster, SlackRateLimitedError } from './slack-poster.ts';

export type ChannelCheckResult = { ok: true; joined: boolean } | { ok: false; message: string };

const INVITE = 'type `/invite @Briefly` in it, then save again';

/**
 * Checks, when an admin saves a channel setting, that Briefly can post there: the channel exists
 * and is not archived, and the bot is a member (it joins public channels itself; private ones
 * need an invite). Runs before the modal's ack, so its poster has a short timeout and no retries.
 */
export class ChannelCheck {
  constructor(private readonly poster: SlackPoster) {}

  async check(channel: string): Promise<ChannelCheckResult> {
    try {
      const info = await this.poster.conversationInfo(channel);
      if (info.isArchived) return { ok: false, message: 'This channel is archived: pick another one.' };
      if (info.isMember) return { ok: true, joined: false };
      if (info.isPrivate) {
        return { ok: false, message: `This private channel does not have Briefly in it: ${INVITE}.` };
      }
      await this.poster.join(info.id);
      return { ok: true, joined: true };
    } catch (error) {
      return { ok: false, message: explain(error) };
    }
  }
}

function explain(error: unknown): string {
  if (error instanceof SlackCallError) {
    switch (error.slackCode) {
      case 'channel_not_found':
        return `Briefly cannot see this channel. If it is private, ${INVITE}.`;
      case 'is_archived':
        return 'This channel is archived: pick another one.';
      case 'missing_scope':
        return 'The Slack app lacks a scope it needs (channels:read, groups:read, channels:join): update it from manifest.json and reinstall.';
      default:
        return `Briefly could not join this channel (Slack said ${error.slackCode}): ${INVITE}, or pick another.`;
    }
  }
  if (isAppError(error) || error instanceof SlackRateLimitedError)
    return 'Slack did not answer in time, so the channel could not be checked: try saving again.';
  throw error;
}
