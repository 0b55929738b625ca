import type { KnownBlock, PlainTextElement } from '@slack/types';

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function plain(text: string, max = 75): PlainTextElement {
  return { type: 'plain_text', text: truncate(text, max), emoji: true };
}

export function section(markdown: string): KnownBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(markdown, 3000) } };
}

export function context(markdown: string): KnownBlock {
  return { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(markdown, 2000) }] };
}

export function header(text: string): KnownBlock {
  return { type: 'header', text: plain(text, 150) };
}

export function userMention(slackUserId: string | null | undefined, fallback: string): string {
  return slackUserId ? `<@${slackUserId}>` : escapeMrkdwn(fallback);
}
