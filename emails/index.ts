import { render } from '@react-email/render';
import { createElement, type FunctionComponent, type ReactElement } from 'react';
import type { z } from 'zod';
import Notification, { notificationSchema } from './notification.tsx';

/**
 * Templates API callers may name in `POST /v1/messages` (`template` + `data`). Each entry's zod
 * schema validates `data` at accept time, so a bad payload is a 400, never a failed send later.
 */
interface TemplateEntry {
  schema: z.ZodType;
  // biome-ignore lint/suspicious/noExplicitAny: props are validated by `schema` just before rendering
  component: FunctionComponent<any>;
}

export const TEMPLATES = {
  notification: { schema: notificationSchema, component: Notification },
} satisfies Record<string, TemplateEntry>;

export type TemplateName = keyof typeof TEMPLATES;
export const TEMPLATE_NAMES = Object.keys(TEMPLATES) as [TemplateName, ...TemplateName[]];

/** HTML and plain text from the same component. */
export async function renderTemplate(
  name: TemplateName,
  data: unknown,
): Promise<{ html: string; text: string }> {
  const entry: TemplateEntry = TEMPLATES[name];
  const props = entry.schema.parse(data) as Record<string, unknown>;
  const element: ReactElement = createElement(entry.component, props);
  const [html, text] = await Promise.all([render(element), render(element, { plainText: true })]);
  return { html, text };
}
