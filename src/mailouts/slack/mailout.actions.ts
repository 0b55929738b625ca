import type { App, BlockAction, ButtonAction, RespondFn } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { ACTIONS, CALLBACKS, MAILOUT_REJECT_BLOCKS } from '../../../blocks/ids.ts';
import { rejectView } from '../../../blocks/mailout-form.ts';
import { audienceLoadingView, audienceView } from '../../../blocks/mailouts.ts';
import { type AppError, isAppError } from '../../errors.ts';
import type { SlackDeps } from '../../slack/deps.ts';
import type { MailoutSlackDeps } from './index.ts';
import { mailoutDetail } from './mailout.command.ts';
import { openMailoutForm, parseMeta } from './mailout-form.ts';

/** "<id>:<version>" (decision buttons) or "<id>". */
export function parseButton(value: string | undefined): { id: number; version?: number } {
  const [id, version] = String(value ?? '').split(':');
  return { id: Number(id), ...(version ? { version: Number(version) } : {}) };
}

type Body = BlockAction<ButtonAction>;

/**
 * Answers only the person who clicked: an ephemeral message under a channel message, or a DM from
 * App Home (which has no response_url).
 */
async function tell(body: Body, respond: RespondFn, client: WebClient, text: string): Promise<void> {
  if (body.response_url) {
    await respond({ response_type: 'ephemeral', replace_original: false, text });
    return;
  }
  await client.chat.postMessage({ channel: body.user.id, text });
}

/** What to tell someone whose decision or action was refused. */
async function explain(
  deps: MailoutSlackDeps,
  error: AppError,
  id: number,
  clicked?: number,
): Promise<string> {
  if (error.fields?.some((f) => f.field === 'version')) {
    const row = await deps.service.row(id).catch(() => undefined);
    return `This request is for version ${clicked ?? '?'} but the mailout has changed since${row ? ` (now version ${row.version})` : ''}: nothing was decided. Use the newer request.`;
  }
  if (error.code === 'conflict') {
    const row = await deps.service.row(id).catch(() => undefined);
    if (row?.status === 'scheduled' && row.approved_by)
      return `Someone decided first: already approved by <@${row.approved_by}>. Nothing changed.`;
    if (row?.status === 'rejected' && row.rejected_by)
      return `Someone decided first: already rejected by <@${row.rejected_by}>. Nothing changed.`;
    return `${error.message}. Nothing changed.`;
  }
  if (error.code === 'not_found') return 'That mailout no longer exists.';
  return `${error.message}. Nothing changed.`;
}

export function register(app: App, slack: SlackDeps, deps: MailoutSlackDeps): void {
  /** Runs `work`; an AppError becomes an ephemeral explanation instead of a failure. */
  const guarded =
    (
      run: (args: {
        body: Body;
        id: number;
        version?: number;
        client: WebClient;
        respond: RespondFn;
      }) => Promise<void>,
    ) =>
    async ({
      ack,
      body,
      action,
      client,
      respond,
    }: {
      ack: () => Promise<void>;
      body: Body;
      action: ButtonAction;
      client: WebClient;
      respond: RespondFn;
    }) => {
      await ack();
      const { id, version } = parseButton(action.value);
      try {
        await run({ body, id, version, client, respond });
      } catch (error) {
        if (!isAppError(error)) throw error;
        await tell(body, respond, client, await explain(deps, error, id, version));
      }
    };

  app.action<Body>(ACTIONS.mailoutNew, async ({ ack, body, client }) => {
    await ack();
    await openMailoutForm(deps, slack, client, body.trigger_id, body.user.id);
  });

  app.action<Body>(
    ACTIONS.mailoutOpen,
    guarded(async ({ body, id, client, respond }) => {
      const detail = await mailoutDetail(deps, id);
      if (body.response_url)
        await respond({ response_type: 'ephemeral', replace_original: false, ...detail });
      else await client.chat.postMessage({ channel: body.user.id, ...detail });
    }),
  );

  app.action<Body>(
    ACTIONS.mailoutEdit,
    guarded(async ({ body, id, client }) => {
      await deps.service.assertMayControl(id, body.user.id);
      await openMailoutForm(deps, slack, client, body.trigger_id, body.user.id, await deps.service.row(id));
    }),
  );

  app.action<Body>(
    ACTIONS.mailoutApprove,
    guarded(async ({ body, id, version }) => {
      // The card is edited by the status job; the clicker sees it change in place.
      await deps.service.approve(id, { approved_by: body.user.id, version: version ?? -1 });
    }),
  );

  app.action<Body>(
    ACTIONS.mailoutEditApprove,
    guarded(async ({ body, id, version, client }) => {
      const row = await deps.service.checkDecision(id, body.user.id, version ?? -1);
      await openMailoutForm(deps, slack, client, body.trigger_id, body.user.id, row, true);
    }),
  );

  app.action<Body>(
    ACTIONS.mailoutReject,
    guarded(async ({ body, id, version, client }) => {
      const row = await deps.service.checkDecision(id, body.user.id, version ?? -1, 'rejected_by');
      await client.views.open({
        trigger_id: body.trigger_id,
        view: rejectView({ name: row.name, privateMetadata: JSON.stringify({ id, version: row.version }) }),
      });
    }),
  );

  app.action<Body>(
    ACTIONS.mailoutAudience,
    guarded(async ({ body, id, client }) => {
      // The trigger expires in 3 s and counting a large audience may not: open first, then fill in.
      const opened = await client.views.open({ trigger_id: body.trigger_id, view: audienceLoadingView() });
      const row = await deps.service.row(id);
      const detail = await deps.service.audienceDetail(
        { operatorCodes: row.operator_codes, tags: row.tags },
        row.window_from && row.window_to ? { from: row.window_from, to: row.window_to } : null,
      );
      await client.views.update({
        view_id: String(opened.view?.id ?? ''),
        view: audienceView({
          name: row.name,
          total: detail.total,
          inWindowNow: detail.in_window_now,
          byZone: detail.by_time_zone,
          byOperator: detail.by_operator_code,
          sample: detail.sample,
        }),
      });
    }),
  );

  for (const [actionId, run, done] of [
    [ACTIONS.mailoutPause, (id: number, u: string) => deps.service.pause(id, u), 'paused'],
    [ACTIONS.mailoutResume, (id: number, u: string) => deps.service.resume(id, u), 'resumed'],
    [ACTIONS.mailoutCancel, (id: number, u: string) => deps.service.cancel(id, u), 'cancelled'],
  ] as const) {
    app.action<Body>(
      actionId,
      guarded(async ({ body, id, client, respond }) => {
        await deps.service.assertMayControl(id, body.user.id);
        const view = await run(id, body.user.id);
        await tell(body, respond, client, `Mailout "${view.name}" ${done}.`);
      }),
    );
  }

  app.view(CALLBACKS.mailoutReject, async ({ ack, body, view }) => {
    const meta = parseMeta(view.private_metadata);
    const reason = (
      Object.values(view.state.values[MAILOUT_REJECT_BLOCKS.reason] ?? {})[0]?.value ?? ''
    ).trim();
    if (!reason) {
      await ack({
        response_action: 'errors',
        errors: { [MAILOUT_REJECT_BLOCKS.reason]: 'Say why, for the author.' },
      });
      return;
    }
    try {
      await deps.service.reject(Number(meta.id), {
        rejected_by: body.user.id,
        reason,
        version: meta.version,
      });
      await ack();
    } catch (error) {
      if (!isAppError(error)) throw error;
      await ack({
        response_action: 'errors',
        errors: {
          [MAILOUT_REJECT_BLOCKS.reason]: (await explain(deps, error, Number(meta.id), meta.version)).slice(
            0,
            300,
          ),
        },
      });
    }
  });
}
