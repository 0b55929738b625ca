import { type ChatPostMessageArguments, ErrorCode, type RetryOptions, WebClient } from '@slack/web-api';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { boltLogger } from './bolt-logger.ts';

/** Slack answered 429: wait this long before the next call (VENDOR-FACTS §1). */
export class SlackRateLimitedError extends Error {
  constructor(readonly retryAfterMs: number) {
    super(`Slack rate limited the call; retry after ${retryAfterMs} ms`);
    this.name = 'SlackRateLimitedError';
  }
}

/** Slack's `error` string for a refused call (`not_in_channel`, `invalid_auth`, …) plus our AppError fields. */
export class SlackCallError extends AppError {
  constructor(
    readonly slackCode: string,
    method: string,
  ) {
    super(
      PERMANENT.has(slackCode) ? 'vendor_error' : 'unavailable',
      `Slack refused ${method}: ${slackCode}`,
      {
        retryable: !PERMANENT.has(slackCode),
      },
    );
    this.name = 'SlackCallError';
  }
}

/** The channel itself is the problem: only an admin can fix it (invite the bot, pick another channel). */
export const CHANNEL_ERRORS = new Set(['not_in_channel', 'channel_not_found', 'is_archived']);

/** Errors that another attempt cannot fix: the channel, token or message itself is wrong. */
const PERMANENT = new Set([
  ...CHANNEL_ERRORS,
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'no_permission',
  'missing_scope',
  'msg_too_long',
  'invalid_blocks',
  'too_many_attachments',
  'message_not_found',
  'cant_update_message',
  'edit_window_closed',
  'cannot_reply_to_message',
  'user_not_found',
  'method_not_supported_for_channel_type',
]);

export interface SlackMessage {
  /** Notification and fallback text (required by Slack alongside blocks). */
  text: string;
  blocks?: unknown[];
}

export interface ChannelInfo {
  id: string;
  name?: string;
  isPrivate: boolean;
  isArchived: boolean;
  /** Whether the bot is a member (conversations.info answers for the calling token). */
  isMember: boolean;
}

const posted = z.object({ channel: z.string().min(1), ts: z.string().min(1) });
const info = z.object({
  channel: z.object({
    id: z.string(),
    name: z.string().optional(),
    is_private: z.boolean().optional(),
    is_archived: z.boolean().optional(),
    is_member: z.boolean().optional(),
  }),
});

/**
 * The Slack Web API calls Briefly makes outside Bolt listeners, through @slack/web-api's WebClient
 * (the one Bolt uses) so workers can post without the Slack app running in their process.
 * `rejectRateLimitedCalls`: a 429 becomes SlackRateLimitedError at once instead of the client
 * sleeping inside a job; the `slack` queue pauses for Retry-After (every process) and retries.
 * Few retries of network errors and 5xx: the queue's own backoff does the rest.
 */
export class SlackPoster {
  private readonly client: WebClient;

  constructor(options: {
    apiUrl: string;
    token: string;
    logger: Logger;
    timeoutMs?: number;
    retryConfig?: RetryOptions;
  }) {
    this.client = new WebClient(options.token, {
      slackApiUrl: options.apiUrl,
      logger: boltLogger(options.logger),
      rejectRateLimitedCalls: true,
      timeout: options.timeoutMs ?? 10_000,
      retryConfig: options.retryConfig ?? { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 2_000 },
    });
  }

  async postMessage(
    channel: string,
    message: SlackMessage,
    thread?: { ts: string; broadcast?: boolean },
  ): Promise<{ channel: string; ts: string }> {
    // The SDK's argument type is a union over blocks/text/thread variants; ours is built at run time.
    const args = {
      channel,
      text: message.text,
      ...(message.blocks?.length ? { blocks: message.blocks } : {}),
      ...(thread ? { thread_ts: thread.ts, ...(thread.broadcast ? { reply_broadcast: true } : {}) } : {}),
    } as ChatPostMessageArguments;
    const result = await this.call('chat.postMessage', () => this.client.chat.postMessage(args));
    return parse(posted, result, 'chat.postMessage');
  }

  async update(channel: string, ts: string, message: SlackMessage): Promise<void> {
    await this.call('chat.update', () =>
      this.client.chat.update({
        channel,
        ts,
        text: message.text,
        blocks: (message.blocks ?? []) as never,
      }),
    );
  }

  /** App Home: replaces the user's Home tab (views.publish). */
  async publishHome(userId: string, view: unknown): Promise<void> {
    await this.call('views.publish', () =>
      this.client.views.publish({ user_id: userId, view: view as never }),
    );
  }

  async conversationInfo(channel: string): Promise<ChannelInfo> {
    const result = parse(
      info,
      await this.call('conversations.info', () => this.client.conversations.info({ channel })),
      'conversations.info',
    );
    return {
      id: result.channel.id,
      name: result.channel.name,
      isPrivate: result.channel.is_private ?? false,
      isArchived: result.channel.is_archived ?? false,
      isMember: result.channel.is_member ?? false,
    };
  }

  async join(channel: string): Promise<void> {
    await this.call('conversations.join', () => this.client.conversations.join({ channel }));
  }

  private call<T>(method: string, run: () => Promise<T>): Promise<T> {
    return callSlack(method, run);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, method: string): T {
  const result = schema.safeParse(value);
  if (!result.success)
    throw new AppError('unavailable', `Slack ${method} answered without the expected fields`);
  return result.data;
}

/**
 * Runs one Web API call and translates its failure: rate limits (with the wait), Slack's own
 * refusals (`not_in_channel`, `is_archived`, ...) and transport errors.
 */
export async function callSlack<T>(method: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const e = error as {
      code?: string;
      retryAfter?: number;
      data?: { error?: string };
      statusCode?: number;
    };
    if (e.code === ErrorCode.RateLimitedError) {
      throw new SlackRateLimitedError(Math.max(1, e.retryAfter ?? 1) * 1000);
    }
    if (e.code === ErrorCode.PlatformError)
      throw new SlackCallError(e.data?.error ?? 'unknown_error', method);
    const detail = e.code === ErrorCode.HTTPError ? `HTTP ${e.statusCode}` : (error as Error).message;
    throw new AppError('unavailable', `Slack ${method} failed: ${detail}`, { cause: error });
  }
}
