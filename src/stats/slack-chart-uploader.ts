import { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { boltLogger } from '../slack/bolt-logger.ts';
import { callSlack } from '../slack/slack-poster.ts';

/** Puts an image into a Slack conversation (the stats post's thread). */
export interface ChartUploader {
  upload(file: {
    channelId: string;
    threadTs?: string;
    filename: string;
    title: string;
    altText: string;
    comment: string;
    content: Buffer;
  }): Promise<{ fileId: string }>;
}

const uploadUrl = z.object({ upload_url: z.url(), file_id: z.string().min(1) });

/**
 * Slack's external upload, step by step (files.upload is retired): `files.getUploadURLExternal`
 * (filename, length, alt text) gives an upload URL and a file id; the bytes are POSTed raw to that
 * URL (any 200 is "received"); `files.completeUploadExternal` with the file id, `channel_id`,
 * `thread_ts` and `initial_comment` shares it. The upload URL is whatever Slack returned (another
 * host than the API); the bot token is never sent there. Needs the `files:write` bot scope.
 */
export class SlackChartUploader implements ChartUploader {
  private readonly client: WebClient;

  constructor(
    private readonly options: { apiUrl: string; token: string; logger: Logger; timeoutMs?: number },
  ) {
    this.client = new WebClient(options.token, {
      slackApiUrl: options.apiUrl,
      logger: boltLogger(options.logger),
      rejectRateLimitedCalls: true,
      timeout: options.timeoutMs ?? 15_000,
      retryConfig: { retries: 1, factor: 2, minTimeout: 500, maxTimeout: 2_000 },
    });
  }

  async upload(file: Parameters<ChartUploader['upload']>[0]): Promise<{ fileId: string }> {
    const answer = await this.call('files.getUploadURLExternal', () =>
      this.client.files.getUploadURLExternal({
        filename: file.filename,
        length: file.content.length,
        alt_text: file.altText,
      }),
    );
    const target = uploadUrl.safeParse(answer);
    if (!target.success) {
      throw new AppError(
        'unavailable',
        'Slack files.getUploadURLExternal answered without upload_url/file_id',
      );
    }
    let response: Response;
    try {
      response = await fetch(target.data.upload_url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(file.content),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
      await response.arrayBuffer().catch(() => undefined);
    } catch (error) {
      throw new AppError('unavailable', `Slack file upload failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (response.status !== 200) {
      throw new AppError('unavailable', `Slack file upload answered HTTP ${response.status}`);
    }
    await this.call('files.completeUploadExternal', () =>
      this.client.files.completeUploadExternal({
        files: [{ id: target.data.file_id, title: file.title }],
        channel_id: file.channelId,
        initial_comment: file.comment,
        ...(file.threadTs ? { thread_ts: file.threadTs } : {}),
      } as Parameters<WebClient['files']['completeUploadExternal']>[0]),
    );
    return { fileId: target.data.file_id };
  }

  private call<T>(method: string, run: () => Promise<T>): Promise<T> {
    return callSlack(method, run);
  }
}
