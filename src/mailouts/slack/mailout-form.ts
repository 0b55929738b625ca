import type { App } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { escapeMrkdwn } from '../../../blocks/common.ts';
import { ACTIONS, MAILOUT_FORM_BLOCKS as B, CALLBACKS } from '../../../blocks/ids.ts';
import {
  audienceLine,
  type FilterChoices,
  filterOption,
  mailoutFormView,
  optionFits,
  STATIC_OPTIONS_MAX,
  textSizeLine,
} from '../../../blocks/mailout-form.ts';
import { AppError, isAppError, zodFields } from '../../errors.ts';
import type { LocalWindow } from '../../shared/local-window.ts';
import type { SlackDeps } from '../../slack/deps.ts';
import type { MailoutRow } from '../mailout.repository.ts';
import { createMailoutSchema, updateMailoutSchema } from '../mailout.schemas.ts';
import type { MailoutSlackDeps } from './index.ts';

/** What the modal carries between opening and submission (≤ 3000 characters). */
export interface FormMeta {
  /** Set when editing. */
  id?: number;
  /** The version the editor saw: saving is refused if the mailout changed since. */
  version?: number;
  /** "Edit and approve": a manager saves and approves in one go. */
  approve?: boolean;
}

type StateValue = {
  value?: string | null;
  selected_date_time?: number | null;
  selected_time?: string | null;
  selected_options?: { value?: string }[] | null;
};
type Values = Record<string, Record<string, StateValue>>;

const first = (values: Values, block: string): StateValue | undefined =>
  values[block] ? Object.values(values[block] ?? {})[0] : undefined;

export interface FormInput {
  name: string;
  text: string;
  startsAt?: Date;
  endsAt?: Date;
  windowFrom?: string;
  windowTo?: string;
  operatorCodes: string[];
  tags: string[];
}

export function readForm(values: Values): FormInput {
  const at = (block: string) => {
    const seconds = first(values, block)?.selected_date_time;
    return typeof seconds === 'number' ? new Date(seconds * 1000) : undefined;
  };
  const options = (block: string) => (first(values, block)?.selected_options ?? []).map((o) => o.value ?? '');
  return {
    name: (first(values, B.name)?.value ?? '').trim(),
    text: first(values, B.text)?.value ?? '',
    startsAt: at(B.startsAt),
    endsAt: at(B.endsAt),
    windowFrom: first(values, B.windowFrom)?.selected_time ?? undefined,
    windowTo: first(values, B.windowTo)?.selected_time ?? undefined,
    operatorCodes: options(B.operatorCodes),
    tags: options(B.tags),
  };
}

export function parseMeta(raw: string | undefined): FormMeta {
  try {
    const meta = JSON.parse(raw || '{}') as FormMeta;
    return typeof meta === 'object' && meta ? meta : {};
  } catch {
    return {};
  }
}

function formWindow(form: FormInput): LocalWindow | null {
  return form.windowFrom && form.windowTo && form.windowFrom !== form.windowTo
    ? { from: form.windowFrom, to: form.windowTo }
    : null;
}

/** An API field path to the modal block that shows its error. */
function blockFor(field: string): string {
  if (field === 'name') return B.name;
  if (field === 'text') return B.text;
  if (field === 'starts_at') return B.startsAt;
  if (field === 'ends_at') return B.endsAt;
  if (field.startsWith('filter.tags')) return B.tags;
  if (field.startsWith('filter')) return B.operatorCodes;
  if (field === 'window.from') return B.windowFrom;
  if (field.startsWith('window')) return B.windowTo;
  return B.name;
}

async function filterChoices(
  deps: MailoutSlackDeps,
  kind: 'operator_code' | 'tag',
  selected: string[],
): Promise<FilterChoices> {
  const values = await deps.service.filterOptions(kind, '', STATIC_OPTIONS_MAX + 1);
  return { options: values.length > STATIC_OPTIONS_MAX ? 'external' : values, selected };
}

async function audienceOf(deps: MailoutSlackDeps, form: FormInput) {
  const window = formWindow(form);
  const preview = await deps.service.preview({ operatorCodes: form.operatorCodes, tags: form.tags }, window);
  return { total: preview.total, inWindowNow: preview.in_window_now, window: window !== null };
}

function defaults(now: Date): FormInput {
  const start = new Date(Math.ceil(now.getTime() / 3_600_000) * 3_600_000);
  return {
    name: '',
    text: '',
    startsAt: start,
    endsAt: new Date(start.getTime() + 86_400_000),
    operatorCodes: [],
    tags: [],
  };
}

function fromRow(row: MailoutRow): FormInput {
  return {
    name: row.name,
    text: row.text,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    windowFrom: row.window_from ?? undefined,
    windowTo: row.window_to ?? undefined,
    operatorCodes: row.operator_codes,
    tags: row.tags,
  };
}

/** Opens the create modal, or the edit / edit-and-approve modal prefilled from `row`. */
export async function openMailoutForm(
  deps: MailoutSlackDeps,
  slack: SlackDeps,
  client: WebClient,
  triggerId: string,
  userId: string,
  row?: MailoutRow,
  approve = false,
): Promise<void> {
  const form = row ? fromRow(row) : defaults(deps.clock.now());
  const [operatorCodes, tags, audience, rep] = await Promise.all([
    filterChoices(deps, 'operator_code', form.operatorCodes),
    filterChoices(deps, 'tag', form.tags),
    audienceOf(deps, form),
    slack.reps.bySlackUser(userId),
  ]);
  const meta: FormMeta = row
    ? { id: Number(row.id), version: row.version, ...(approve ? { approve } : {}) }
    : {};
  await client.views.open({
    trigger_id: triggerId,
    view: mailoutFormView({
      mode: !row ? 'new' : approve ? 'edit-approve' : 'edit',
      privateMetadata: JSON.stringify(meta),
      timeZone: rep?.timeZone,
      ...form,
      operatorCodes,
      tags,
      audience,
    }),
  });
}

/** The fields that differ from the stored mailout (an edit sends only those). */
function changedFields(row: MailoutRow, body: Record<string, unknown>): Record<string, unknown> {
  const current: Record<string, unknown> = {
    name: row.name,
    text: row.text,
    starts_at: row.starts_at.toISOString(),
    ends_at: row.ends_at.toISOString(),
    filter: { operator_codes: row.operator_codes, tags: row.tags },
    window: row.window_from && row.window_to ? { from: row.window_from, to: row.window_to } : null,
  };
  return Object.fromEntries(
    Object.entries(body).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(current[key])),
  );
}

export function register(app: App, _slack: SlackDeps, deps: MailoutSlackDeps): void {
  // Typing the text, changing the window or the filter redraws the size and audience lines.
  for (const actionId of [
    ACTIONS.mailoutFormText,
    ACTIONS.mailoutFormTime,
    ACTIONS.mailoutFormOperators,
    ACTIONS.mailoutFormTags,
  ]) {
    app.action(actionId, async ({ ack, body, client }) => {
      await ack();
      const view = (body as { view?: Record<string, unknown> & { id: string; hash?: string } }).view;
      if (!view) return;
      const form = readForm((view.state as { values: Values }).values);
      const recount = actionId !== ACTIONS.mailoutFormText;
      const audience = recount ? audienceLine(await audienceOf(deps, form)) : undefined;
      const blocks = (view.blocks as (KnownBlock & { block_id?: string })[]).map((block) => {
        if (block.block_id === B.textSize)
          return { ...block, elements: [{ type: 'mrkdwn', text: escapeMrkdwn(textSizeLine(form.text)) }] };
        if (audience && block.block_id === B.audience)
          return { ...block, text: { type: 'mrkdwn', text: audience } };
        return block;
      });
      await client.views.update({
        view_id: view.id,
        ...(view.hash ? { hash: view.hash } : {}),
        view: {
          type: 'modal',
          callback_id: CALLBACKS.mailoutForm,
          private_metadata: String(view.private_metadata ?? ''),
          notify_on_close: true,
          title: view.title as never,
          submit: view.submit as never,
          close: view.close as never,
          blocks: blocks as never,
        },
      });
    });
  }

  // More than 100 operator codes or tags: Slack asks for options as the user types.
  for (const [actionId, kind] of [
    [ACTIONS.mailoutFormOperators, 'operator_code'],
    [ACTIONS.mailoutFormTags, 'tag'],
  ] as const) {
    app.options(actionId, async ({ ack, options }) => {
      const rows = await deps.service.filterOptions(kind, String(options.value ?? '').trim(), 100);
      await ack({
        options: rows.filter((r) => optionFits(r.value)).map((r) => filterOption(r.value, r.count)),
      });
    });
  }

  app.view({ callback_id: CALLBACKS.mailoutForm, type: 'view_closed' }, async ({ ack, body }) => {
    await ack();
    const meta = parseMeta(body.view.private_metadata);
    deps.logger.info('mailout modal closed without saving: nothing stored', {
      user: body.user.id,
      ...(meta.id ? { mailout_id: meta.id } : {}),
    });
  });

  app.view(CALLBACKS.mailoutForm, async ({ ack, body, view }) => {
    const user = body.user.id;
    const meta = parseMeta(view.private_metadata);
    const form = readForm(view.state.values as Values);
    const errors: Record<string, string> = {};
    if (!form.startsAt) errors[B.startsAt] = 'Choose when sending starts.';
    if (!form.endsAt) errors[B.endsAt] = 'Choose when sending ends.';
    if (form.startsAt && form.endsAt && form.endsAt <= form.startsAt)
      errors[B.endsAt] = 'The end must be after the start.';
    else if (form.endsAt && form.endsAt <= deps.clock.now())
      errors[B.endsAt] = 'The end must be in the future.';
    if (Boolean(form.windowFrom) !== Boolean(form.windowTo)) {
      errors[form.windowFrom ? B.windowTo : B.windowFrom] =
        'Give both ends of the window, or neither to send at any hour.';
    }
    const body_ = {
      name: form.name,
      text: form.text,
      starts_at: form.startsAt?.toISOString(),
      ends_at: form.endsAt?.toISOString(),
      filter: { operator_codes: form.operatorCodes, tags: form.tags },
      window: form.windowFrom && form.windowTo ? { from: form.windowFrom, to: form.windowTo } : null,
    };
    const parsed = createMailoutSchema.safeParse({ ...body_, created_by: user, submit: true });
    if (!parsed.success) {
      for (const f of zodFields(parsed.error.issues))
        errors[blockFor(f.field)] ??= `${f.message}`.slice(0, 150);
    }
    if (Object.keys(errors).length === 0) {
      const audience = await audienceOf(deps, form);
      if (audience.total === 0) {
        // The tags are what empties it when the operators alone match someone.
        const byOperators = form.tags.length ? (await audienceOf(deps, { ...form, tags: [] })).total : 0;
        errors[
          byOperators > 0 || (form.tags.length && !form.operatorCodes.length) ? B.tags : B.operatorCodes
        ] = 'No customer matches this filter: choose other operators or tags.';
      }
    }
    if (Object.keys(errors).length > 0 || !parsed.success) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    try {
      if (meta.id === undefined) {
        await deps.service.create(parsed.data, user);
      } else {
        const row = await deps.service.row(meta.id);
        if (meta.approve) await deps.service.checkDecision(meta.id, user, meta.version);
        else await deps.service.assertMayControl(meta.id, user);
        const changes = changedFields(row, body_);
        let version = row.version;
        if (Object.keys(changes).length > 0) {
          const update = updateMailoutSchema.safeParse({ ...changes, version: meta.version, actor: user });
          if (!update.success) throw AppError.validation(zodFields(update.error.issues));
          version = (await deps.service.update(meta.id, update.data, user)).version;
        } else if (meta.version !== undefined && meta.version !== row.version) {
          throw new AppError(
            'conflict',
            `The mailout changed since you opened it (now version ${row.version}).`,
          );
        }
        if (meta.approve) await deps.service.approve(meta.id, { approved_by: user, version });
      }
      await ack();
    } catch (error) {
      if (!isAppError(error)) throw error;
      const out: Record<string, string> = {};
      for (const f of error.fields ?? []) out[blockFor(f.field)] ??= f.message.slice(0, 150);
      if (Object.keys(out).length === 0 || error.code !== 'validation_failed') {
        out[B.name] = error.message.slice(0, 300);
      }
      await ack({ response_action: 'errors', errors: out });
    }
  });
}
