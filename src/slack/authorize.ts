import { type Authorize, type AuthorizeResult, webApi } from '@slack/bolt';

/**
 * One workspace, one bot token: its identity (bot id, bot user id, team) is looked up with
 * `auth.test` once and reused for every request. Bolt's own single-token authorize calls
 * `auth.test` again on every event when `tokenVerificationEnabled` is false (bolt-js App.js,
 * singleAuthorization), which cost one Slack API call per accepted request. A failed lookup is
 * not cached: the next request tries again.
 */
export function cachedBotAuthorization(
  botToken: string,
  clientOptions: webApi.WebClientOptions,
): Authorize<boolean> {
  const client = new webApi.WebClient(undefined, { ...clientOptions, retryConfig: { retries: 2 } });
  let identity: Promise<AuthorizeResult> | undefined;
  return async () => {
    identity ??= client.auth.test({ token: botToken }).then((result) => ({
      botToken,
      botId: result.bot_id,
      botUserId: result.user_id,
      teamId: result.team_id,
    }));
    try {
      return await identity;
    } catch (error) {
      identity = undefined;
      throw error;
    }
  };
}
