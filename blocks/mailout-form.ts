import type { KnownBlock, ModalView, PlainTextOption } from '@slack/types';
import { smsSize } from '../src/mailouts/sms-segments.ts';
import { context, escapeMrkdwn, plain, truncate } from './common.ts';
import { ACTIONS, MAILOUT_FORM_BLOCKS as B, CALLBACKS, MAILOUT_REJECT_BLOCKS } from './ids.ts';

/** Longest text a mailout may have (the API's limit); the modal's input enforces it too. */
export const MAILOUT_TEXT_MAX = 2000;
/** Above this many values a filter select asks us for options as the user types (external select). */
export const STATIC_OPTIONS_MAX = 100;

export interface FilterChoices {
  /** Every value with its customer count (at most STATIC_OPTIONS_MAX), or 'external' when there are more. */
  options: { value: string; count: number }[] | 'external';
  selected: string[];
}

export interface MailoutFormData {
  mode: 'new' | 'edit' | 'edit-approve';
  privateMetadata: string;
  /** The viewer's zone when known (a rep); date pickers show the viewer's own Slack time zone. */
  timeZone?: string;
  name?: string;
  text?: string;
  startsAt?: Date;
  endsAt?: Date;
  windowFrom?: string;
  windowTo?: string;
  operatorCodes: FilterChoices;
  tags: FilterChoices;
  audience?: { total: number; inWindowNow: number; window: boolean };
}

const n = (value: number) => value.toLocaleString('en-US');

/** An option's text and value are at most 75 characters: longer values cannot be offered. */
export function filterOption(value: string, count?: number): PlainTextOption {
  const label = count === undefined ? value : `${value} · ${n(count)} customer${count === 1 ? '' : 's'}`;
  return { text: plain(truncate(label, 75), 75), value };
}

export const optionFits = (value: string) => value.length <= 75;

function filterElement(actionId: string, choices: FilterChoices, placeholder: string) {
  const selected = choices.selected.filter(optionFits);
  if (choices.options === 'external') {
    return {
      type: 'multi_external_select',
      action_id: actionId,
      min_query_length: 0,
      placeholder: plain(placeholder, 150),
      ...(selected.length ? { initial_options: selected.map((v) => filterOption(v)) } : {}),
    };
  }
  const options = choices.options
    .filter((o) => optionFits(o.value))
    .map((o) => filterOption(o.value, o.count));
  for (const value of selected) {
    if (!options.some((o) => o.value === value) && options.length < 100) options.push(filterOption(value));
  }
  const initial = options.filter((o) => selected.includes(o.value ?? ''));
  return {
    type: 'multi_static_select',
    action_id: actionId,
    placeholder: plain(placeholder, 150),
    options: options.length ? options.slice(0, 100) : [filterOption('(no customers yet)', 0)],
    ...(initial.length ? { initial_options: initial } : {}),
  };
}

export function textSizeLine(text: string): string {
  const size = smsSize(text);
  const over = size.characters > MAILOUT_TEXT_MAX ? ` · :warning: over the ${n(MAILOUT_TEXT_MAX)} limit` : '';
  return `${n(size.characters)} characters · ${size.segments} SMS segment${size.segments === 1 ? '' : 's'} (${size.encoding})${over}`;
}

export function audienceLine(a: MailoutFormData['audience']): string {
  if (!a) return 'Audience: choose operators and tags (none = every customer).';
  const window = a.window ? `${n(a.inWindowNow)} inside the window now` : 'no window: all can be reached now';
  return `:busts_in_silhouette: *Audience: ${n(a.total)} customer${a.total === 1 ? '' : 's'}* · ${window}`;
}

const epoch = (d: Date) => Math.floor(d.getTime() / 1000);

/** The create / edit / edit-and-approve modal. Block ids are fixed so views.update keeps what was typed. */
export function mailoutFormView(d: MailoutFormData): ModalView {
  const zone = d.timeZone ? ` (${d.timeZone})` : '';
  const blocks: KnownBlock[] = [
    {
      type: 'input',
      block_id: B.name,
      label: plain('Name', 2000),
      element: {
        type: 'plain_text_input',
        action_id: 'value',
        max_length: 200,
        ...(d.name ? { initial_value: d.name } : {}),
      },
    },
    {
      type: 'input',
      block_id: B.text,
      dispatch_action: true,
      label: plain('Text', 2000),
      hint: plain('What every customer receives, as one SMS-style message.', 2000),
      element: {
        type: 'plain_text_input',
        action_id: ACTIONS.mailoutFormText,
        multiline: true,
        max_length: MAILOUT_TEXT_MAX,
        dispatch_action_config: { trigger_actions_on: ['on_character_entered'] },
        ...(d.text ? { initial_value: d.text } : {}),
      },
    },
    { ...context(escapeMrkdwn(textSizeLine(d.text ?? ''))), block_id: B.textSize } as KnownBlock,
    {
      type: 'input',
      block_id: B.startsAt,
      label: plain('Start', 2000),
      hint: plain(`Shown in your own time zone${zone}.`, 2000),
      element: {
        type: 'datetimepicker',
        action_id: 'value',
        ...(d.startsAt ? { initial_date_time: epoch(d.startsAt) } : {}),
      },
    },
    {
      type: 'input',
      block_id: B.endsAt,
      label: plain('End', 2000),
      hint: plain('Nothing is sent at or after the end; what is left then expires.', 2000),
      element: {
        type: 'datetimepicker',
        action_id: 'value',
        ...(d.endsAt ? { initial_date_time: epoch(d.endsAt) } : {}),
      },
    },
    {
      type: 'input',
      block_id: B.windowFrom,
      optional: true,
      dispatch_action: true,
      label: plain('Send from (customer local time)', 2000),
      hint: plain(
        'With "until": the daily window in each customer\'s own time zone. Leave both empty to send at any hour.',
        2000,
      ),
      element: {
        type: 'timepicker',
        action_id: ACTIONS.mailoutFormTime,
        ...(d.windowFrom ? { initial_time: d.windowFrom } : {}),
      },
    },
    {
      type: 'input',
      block_id: B.windowTo,
      optional: true,
      dispatch_action: true,
      label: plain('Send until (customer local time)', 2000),
      element: {
        type: 'timepicker',
        action_id: ACTIONS.mailoutFormTime,
        ...(d.windowTo ? { initial_time: d.windowTo } : {}),
      },
    },
    {
      type: 'input',
      block_id: B.operatorCodes,
      optional: true,
      dispatch_action: true,
      label: plain('Operator codes', 2000),
      hint: plain('Customers on any of these operators; none chosen = every operator.', 2000),
      element: filterElement(ACTIONS.mailoutFormOperators, d.operatorCodes, 'Any operator'),
    } as KnownBlock,
    {
      type: 'input',
      block_id: B.tags,
      optional: true,
      dispatch_action: true,
      label: plain('Tags', 2000),
      hint: plain('Customers with any of these tags (and one of the operators above); none = any tag.', 2000),
      element: filterElement(ACTIONS.mailoutFormTags, d.tags, 'Any tag'),
    } as KnownBlock,
    { type: 'section', block_id: B.audience, text: { type: 'mrkdwn', text: audienceLine(d.audience) } },
  ];
  const title = d.mode === 'new' ? 'New mailout' : d.mode === 'edit' ? 'Edit mailout' : 'Edit and approve';
  const submit = d.mode === 'new' ? 'Submit' : d.mode === 'edit' ? 'Save' : 'Save and approve';
  return {
    type: 'modal',
    callback_id: CALLBACKS.mailoutForm,
    private_metadata: d.privateMetadata,
    notify_on_close: true,
    title: plain(title, 24),
    submit: plain(submit, 24),
    close: plain('Cancel', 24),
    blocks,
  };
}

/** "Reject": asks the reason; the card shows it. */
export function rejectView(d: { name: string; privateMetadata: string }): ModalView {
  return {
    type: 'modal',
    callback_id: CALLBACKS.mailoutReject,
    private_metadata: d.privateMetadata,
    title: plain('Reject mailout', 24),
    submit: plain('Reject', 24),
    close: plain('Cancel', 24),
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `Rejecting *${escapeMrkdwn(truncate(d.name, 200))}*. The author is told why.`,
        },
      },
      {
        type: 'input',
        block_id: MAILOUT_REJECT_BLOCKS.reason,
        label: plain('Reason', 2000),
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 1000 },
      },
    ],
  };
}
