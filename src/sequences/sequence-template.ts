import Mustache from 'mustache';

/**
 * Step templates are Mustache: `{{first_name}}` is HTML-escaped in the body, `{{{x}}}` is not
 * (refused: a contact's data must never become markup). An unknown variable is an error when the
 * step is saved, never an empty string when it is sent.
 */
export const TEMPLATE_VARIABLES = ['first_name', 'last_name', 'company', 'email'] as const;

export interface TemplateContact {
  email: string;
  first_name: string;
  last_name: string;
  company: string;
  fields: Record<string, unknown>;
}

type Token = [string, string, number, number, Token[]?, number?];

function names(tokens: Token[], out: { name: string; type: string }[]): void {
  for (const token of tokens) {
    const [type, value] = token;
    if (type === 'name' || type === '&' || type === '#' || type === '^') out.push({ name: value, type });
    if (token[4]) names(token[4], out);
  }
}

/** Problems with a template (empty when it is fine): syntax, unknown variables, unescaped output. */
export function templateProblems(template: string): string[] {
  let tokens: Token[];
  try {
    tokens = Mustache.parse(template) as unknown as Token[];
  } catch (error) {
    return [`is not a valid template: ${(error as Error).message}`];
  }
  const found: { name: string; type: string }[] = [];
  names(tokens, found);
  const problems: string[] = [];
  for (const { name, type } of found) {
    if (type === '&')
      problems.push(`uses {{{${name}}}} or {{&${name}}}: unescaped variables are not allowed`);
    else if (!isKnown(name))
      problems.push(
        `uses unknown variable {{${name}}}; known: ${TEMPLATE_VARIABLES.map((v) => `{{${v}}}`).join(', ')}, {{fields.<name>}}, {{unsubscribe_url}}`,
      );
  }
  return [...new Set(problems)];
}

function isKnown(name: string): boolean {
  return (
    (TEMPLATE_VARIABLES as readonly string[]).includes(name) ||
    name === 'unsubscribe_url' ||
    /^fields\.[A-Za-z_][\w-]*$/.test(name)
  );
}

function view(contact: TemplateContact, unsubscribeUrl: string) {
  return { ...contact, unsubscribe_url: unsubscribeUrl };
}

/** The body as HTML (variables escaped) and as plain text (variables verbatim). */
export function renderBody(
  template: string,
  contact: TemplateContact,
  unsubscribeUrl: string,
): { html: string; text: string } {
  const text = Mustache.render(template, view(contact, unsubscribeUrl), undefined, {
    escape: (v) => String(v),
  });
  const escapedSource = escapeHtml(template).replace(/\n/g, '<br>\n');
  // Mustache tags survive escapeHtml untouched ({{ and }} contain no escaped characters).
  const html = Mustache.render(escapedSource, view(contact, unsubscribeUrl));
  return { html, text };
}

/** Subjects are a header: plain text, line breaks removed. */
export function renderSubject(template: string, contact: TemplateContact): string {
  return Mustache.render(template, view(contact, ''), undefined, { escape: (v) => String(v) })
    .replace(/[\r\n]+/g, ' ')
    .trim();
}

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
