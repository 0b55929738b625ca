import type pg from 'pg';
import type { Config } from '../config/config.ts';
import type { DeliveryService } from '../delivery/delivery.service.ts';
import type { ApiRoute } from '../http/api-route.ts';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import type { SettingsRepository } from '../settings/settings.repository.ts';
import type { Clock } from '../shared/time.ts';
import type { ChannelCheckResult } from '../slack/channel-check.ts';
import type { SlackPostService } from '../slack/posts/slack-post.service.ts';
import { SlackChartUploader } from './slack-chart-uploader.ts';
import { statsJobHandlers } from './stats.handlers.ts';
import { StatsRepository } from './stats.repository.ts';
import { statsRoutes } from './stats.routes.ts';
import { StatsService } from './stats.service.ts';

export interface Stats {
  service: StatsService;
  repo: StatsRepository;
  handlers: JobHandlers;
  routes: ApiRoute[];
}

/** Daily stats: channels and recipients (API, Slack), the per-minute tick, post/chart/email jobs. */
export function createStats(deps: {
  config: Config;
  pool: pg.Pool;
  queues: Queues;
  delivery: DeliveryService;
  slackPosts: SlackPostService;
  settings: SettingsRepository;
  channelCheck?: (channel: string) => Promise<ChannelCheckResult>;
  clock: Clock;
  logger: Logger;
}): Stats {
  const repo = new StatsRepository(deps.pool);
  const logger = deps.logger.child({ component: 'stats' });
  const token = deps.config.slack.botToken;
  const service = new StatsService({
    repo,
    queues: deps.queues,
    slackPosts: deps.slackPosts,
    settings: deps.settings,
    sendEmail: (email) => deps.delivery.sendInternal(email),
    uploader: token ? new SlackChartUploader({ apiUrl: deps.config.slack.apiUrl, token, logger }) : undefined,
    channelCheck: deps.channelCheck,
    clock: deps.clock,
    logger,
  });
  return { service, repo, handlers: statsJobHandlers(service), routes: statsRoutes(service) };
}
