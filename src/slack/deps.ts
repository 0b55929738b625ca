import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import type { DeliveriesOverview, MessageTrailView, TestEmailStatusView } from '../../blocks/deliveries.ts';
import type { AppointmentService } from '../appointments/appointment.service.ts';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { BriefingService } from '../briefings/briefing.service.ts';
import type { CalendarConnectService } from '../calendars/calendar-connect.service.ts';
import type { TestEmail } from '../delivery/delivery.service.ts';
import type { Logger } from '../logging/logger.ts';
import type { RepService } from '../reps/rep.service.ts';
import type { SequenceView } from '../sequences/sequence.repository.ts';
import type { SequenceOverview } from '../sequences/sequence.service.ts';
import type { SettingsRepository } from '../settings/settings.repository.ts';
import type { StatsChannelRow } from '../stats/stats.repository.ts';
import type { CreateStatsChannelInput } from '../stats/stats.schemas.ts';
import type { ChannelCheckResult } from './channel-check.ts';
import type { SlackPostService } from './posts/slack-post.service.ts';

/** What Slack listeners may call: services and repositories, never the database directly. */
export interface SlackDeps {
  reps: RepService;
  settings: SettingsRepository;
  audit: AuditRepository;
  logger: Logger;
  delivery: {
    overview(): Promise<DeliveriesOverview>;
    message(id: string): Promise<MessageTrailView & TestEmailStatusView>;
    sendTest(test: TestEmail): Promise<{ id: string; messageIdHeader: string | null }>;
  };
  briefings: BriefingService;
  calendarConnect: CalendarConnectService;
  /** Posts by key; settings saves release the posts held for a broken channel. */
  slackPosts: SlackPostService;
  appointments: AppointmentService;
  /** Outbound sequences (/sequences); absent where the feature is not composed. */
  sequences?: {
    overview(): Promise<SequenceOverview[]>;
    get(id: string): Promise<SequenceView>;
    setStatus(id: string, status: 'active' | 'paused', actor: string): Promise<void>;
    mailboxes(): Promise<{ id: string; email: string }[]>;
    /** Creates (id null) or replaces a sequence's fields from the modal; validation errors name API fields. */
    save(input: unknown, id: string | null, actor: string): Promise<void>;
    enrollEmails(
      id: string,
      emails: string[],
      actor: string,
    ): Promise<{ enrolled: number; already: string[]; unknown: string[] }>;
  };
  /** `/briefly <name> …` handled by a feature (e.g. `mailouts`): the rest of the text is passed on. */
  subcommands?: Record<
    string,
    (args: SlackCommandMiddlewareArgs & AllMiddlewareArgs, text: string) => Promise<void>
  >;
  /** Features' App Home sections for one user: `top` above the rep's own settings, `bottom` below. */
  homeSections?: ((slackUserId: string) => Promise<{ top?: KnownBlock[]; bottom?: KnownBlock[] }>)[];
  /** Can Briefly post to this channel (joining it if public)? */
  channelCheck(channel: string): Promise<ChannelCheckResult>;
  /** Daily stats channels (the modal pushed from /briefly settings); absent where not composed. */
  stats?: {
    listChannels(): Promise<StatsChannelRow[]>;
    /** Adds the channel, or changes it when it already is one; checks that Briefly can post there. */
    saveChannel(input: CreateStatsChannelInput, actor: { id: string }): Promise<StatsChannelRow>;
    deleteChannel(id: string, actor: { id: string }): Promise<void>;
  };
}

export const NOT_ALLOWED_DELIVERIES = 'Only Briefly admins and managers can look at deliveries.';

export const NOT_ALLOWED_REPS =
  'Only Briefly admins and managers can add, edit or remove reps. Ask one of them, or an admin listed in SLACK_ADMIN_USER_IDS.';
export const NOT_ALLOWED_SETTINGS = 'Only Briefly admins can change workspace settings.';
export const NOT_ALLOWED_TEST_EMAIL = 'Only Briefly admins can send test emails.';
