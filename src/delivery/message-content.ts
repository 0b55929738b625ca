import { randomUUID } from 'node:crypto';
import type { FieldProblem } from '../errors.ts';

/**
 * Rules for the parts of a message that end up as raw MIME: extra headers and attachments. They
 * are checked once, at accept time (API and internal callers alike), so a provider never receives
 * a header that could smuggle another header in (CR/LF) or one that Briefly itself owns.
 */

/** Headers a caller may set besides any `X-` header (RFC 8058 one-click unsubscribe, threading). */
const ALLOWED_HEADERS = ['List-Unsubscribe', 'List-Unsubscribe-Post', 'In-Reply-To', 'References'];
const ALLOWED_BY_LOWER = new Map(ALLOWED_HEADERS.map((name) => [name.toLowerCase(), name]));

/** RFC 5322 field names are printable ASCII without colon; we take the token subset. */
const X_HEADER = /^X-[A-Za-z0-9][A-Za-z0-9-]{0,97}$/i;
/** Our own headers: a caller must not be able to make a message look like another one of ours. */
const RESERVED = /^X-Briefly-/i;
const LINE_BREAK_OR_NUL = /[\r\n\0]/;

export const MAX_HEADERS = 50;
export const MAX_HEADER_VALUE = 4_000;
export const MAX_ATTACHMENTS = 50;

export const HEADERS_RULE = `allowed: ${ALLOWED_HEADERS.join(', ')} and X- headers (not X-Briefly-*)`;

export interface ContentProblem {
  /** Path below the message: ["headers", "X-Foo"], ["attachments", 0, "content_id"]. */
  path: (string | number)[];
  message: string;
}

export const toFieldProblems = (problems: ContentProblem[]): FieldProblem[] =>
  problems.map((p) => ({ field: p.path.join('.'), message: p.message }));

/**
 * Validates and canonicalises headers ("in-reply-to" becomes "In-Reply-To"). Problems name the
 * header, so a caller sees which one was refused and why.
 */
export function checkHeaders(headers: Record<string, unknown>): {
  headers: Record<string, string>;
  problems: ContentProblem[];
} {
  const problems: ContentProblem[] = [];
  const out: Record<string, string> = {};
  const seen = new Set<string>();
  const entries = Object.entries(headers);
  if (entries.length > MAX_HEADERS) {
    problems.push({ path: ['headers'], message: `must have at most ${MAX_HEADERS} headers` });
  }
  for (const [rawName, value] of entries) {
    const path = ['headers', rawName];
    const canonical = ALLOWED_BY_LOWER.get(rawName.toLowerCase());
    if (LINE_BREAK_OR_NUL.test(rawName)) {
      problems.push({ path: ['headers'], message: 'a header name must not contain CR, LF or NUL' });
      continue;
    }
    if (!canonical && (!X_HEADER.test(rawName) || RESERVED.test(rawName))) {
      problems.push({ path, message: `is not an allowed header (${HEADERS_RULE})` });
      continue;
    }
    if (typeof value !== 'string') {
      problems.push({ path, message: 'must be a string' });
      continue;
    }
    if (LINE_BREAK_OR_NUL.test(value)) {
      problems.push({ path, message: 'must not contain CR, LF or NUL (one line, no folding)' });
      continue;
    }
    if (value.trim() === '' || value.length > MAX_HEADER_VALUE) {
      problems.push({ path, message: `must be 1-${MAX_HEADER_VALUE} characters` });
      continue;
    }
    const name = canonical ?? rawName;
    if (seen.has(name.toLowerCase())) {
      problems.push({ path, message: 'is given twice (header names are case-insensitive)' });
      continue;
    }
    seen.add(name.toLowerCase());
    out[name] = value.trim();
  }
  return { headers: out, problems };
}

export type AttachmentDisposition = 'attachment' | 'inline';

/** An attachment as stored and sent: content decoded. */
export interface AttachmentInput {
  filename: string;
  contentType: string;
  content: Buffer;
  disposition?: AttachmentDisposition;
  contentId?: string;
}

export const CONTENT_TYPE =
  /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9!#$&^_.+-]+=("[^"\r\n\\]*"|[a-z0-9!#$&^_.+-]+))*\s*$/i;
export const CONTENT_ID = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,200}$/;
/** A plain file name: 1-255 characters, no path separator, no control characters. */
export function isFilename(value: string): boolean {
  if (value.length < 1 || value.length > 255 || value.trim() === '' || /[/\\]/.test(value)) return false;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return false;
  }
  return true;
}
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function isBase64(value: string): boolean {
  const compact = value.replace(/\s+/g, '');
  return compact.length % 4 === 0 && BASE64.test(compact);
}

/** Decodes strict base64 (whitespace ignored); undefined when it is not base64. */
export function decodeBase64(value: string): Buffer | undefined {
  return isBase64(value) ? Buffer.from(value.replace(/\s+/g, ''), 'base64') : undefined;
}

/** What each attachment and the list as a whole must satisfy (API and internal callers alike). */
export function checkAttachments(
  attachments: { filename: string; contentType: string; disposition?: string; contentId?: string }[],
): ContentProblem[] {
  const problems: ContentProblem[] = [];
  const ids = new Set<string>();
  if (attachments.length > MAX_ATTACHMENTS) {
    problems.push({ path: ['attachments'], message: `must have at most ${MAX_ATTACHMENTS} attachments` });
  }
  attachments.forEach((a, index) => {
    const at = (key: string) => ['attachments', index, key];
    if (!isFilename(a.filename)) {
      problems.push({
        path: at('filename'),
        message: 'must be a file name of 1-255 characters (no path, no control characters)',
      });
    }
    if (!CONTENT_TYPE.test(a.contentType)) {
      problems.push({
        path: at('content_type'),
        message: 'must be a MIME type such as application/pdf or text/calendar; method=REQUEST',
      });
    }
    if (a.disposition !== undefined && a.disposition !== 'attachment' && a.disposition !== 'inline') {
      problems.push({ path: at('disposition'), message: 'must be attachment or inline' });
    }
    if (a.contentId !== undefined) {
      if (!CONTENT_ID.test(a.contentId)) {
        problems.push({
          path: at('content_id'),
          message: 'must be 1-200 characters without spaces or angle brackets, e.g. chart@briefly',
        });
      } else if (ids.has(a.contentId)) {
        problems.push({ path: at('content_id'), message: 'is used by another attachment' });
      }
      ids.add(a.contentId);
    } else if (a.disposition === 'inline') {
      problems.push({
        path: at('content_id'),
        message: 'is required for an inline attachment (the HTML refers to it as cid:<content_id>)',
      });
    }
  });
  return problems;
}

export const totalSize = (attachments: { content: Buffer }[]): number =>
  attachments.reduce((sum, a) => sum + a.content.length, 0);

/** A fresh Message-ID for the domain: what the recipient's client shows and replies quote. */
export function newMessageIdHeader(domain: string): string {
  return `<${randomUUID()}@${domain}>`;
}

/** "<a@b>" or "a@b" -> "<a@b>", for look-ups by a header value taken from a reply. */
export function normaliseMessageIdHeader(value: string): string {
  const bare = value.trim().replace(/^<|>$/g, '');
  return `<${bare}>`;
}
