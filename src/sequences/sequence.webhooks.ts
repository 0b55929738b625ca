import { timingSafeEqual } from 'node:crypto';
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { Sequences } from './sequence.module.ts';
import { verifyUnsubscribe } from './unsubscribe-token.ts';

/** Message-IDs quoted in a header block's In-Reply-To and References (folded lines joined). */
export function referencedMessageIds(headerBlock: string): string[] {
  const unfolded = headerBlock.replace(/\r?\n[ \t]+/g, ' ');
  const ids: string[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const match = /^(in-reply-to|references)\s*:(.*)$/i.exec(line);
    if (match?.[2]) ids.push(...(match[2].match(/<[^<>\s]+>/g) ?? []));
  }
  return [...new Set(ids)];
}

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

/**
 * SendGrid Inbound Parse (`POST /webhooks/inbound/<INBOUND_PARSE_SECRET>`, multipart/form-data, default
 * or raw mode) and the unsubscribe link (`GET/POST /u/<token>`, the token is the authentication).
 * Registered in their own scope: multipart and form bodies are parsed here only.
 */
export function registerSequenceWebhooks(
  parent: FastifyInstance,
  deps: { sequences: Sequences; inboundSecret?: string; unsubscribeSecret: string; logger: Logger },
): void {
  parent.register(async (scope) => {
    await scope.register(multipart, {
      limits: { fieldSize: 5 * 1024 * 1024, fields: 100, files: 50, fileSize: 25 * 1024 * 1024, parts: 200 },
    });
    // RFC 8058 one-click: the mail client POSTs "List-Unsubscribe=One-Click" form-encoded; we need nothing from it.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_r, body, done) =>
      done(null, body),
    );

    scope.post('/webhooks/inbound/:secret', async (request, reply) => {
      if (!deps.inboundSecret)
        throw new AppError('unavailable', 'Inbound Parse is off: set INBOUND_PARSE_SECRET', {
          retryable: false,
        });
      const { secret } = request.params as { secret: string };
      if (!sameSecret(secret, deps.inboundSecret))
        throw new AppError('unauthorized', 'Wrong inbound parse secret');
      if (!request.isMultipart())
        throw AppError.validation([
          { field: '(body)', message: 'must be multipart/form-data (SendGrid Inbound Parse)' },
        ]);
      const fields: Record<string, string> = {};
      for await (const part of request.parts()) {
        if (part.type === 'file') part.file.resume();
        else if (typeof part.value === 'string') fields[part.fieldname] = part.value;
      }
      // Default mode sends the header block in `headers`; raw mode the whole MIME message in `email`.
      const headerBlock = fields.headers ?? (fields.email ?? '').split(/\r?\n\r?\n/)[0] ?? '';
      const ids = referencedMessageIds(headerBlock);
      const subject = fields.subject ?? /^subject:\s*(.*)$/im.exec(headerBlock)?.[1] ?? '';
      const stopped = ids.length ? await deps.sequences.onReply(ids, fields.from ?? '', subject) : [];
      return reply.code(200).send({ matched: stopped.length });
    });

    const unsubscribe = async (token: string) => {
      const verified = verifyUnsubscribe(deps.unsubscribeSecret, token);
      if (!verified) throw new AppError('not_found', 'This unsubscribe link is not valid');
      await deps.sequences.unsubscribe(verified.contactId, verified.sequenceId);
    };
    const page = (body: string) =>
      `<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head><body>${body}</body></html>`;
    // One-click (RFC 8058) and the footer page's button: unsubscribes at once, asks nothing.
    scope.post('/u/:token', async (request, reply) => {
      await unsubscribe((request.params as { token: string }).token);
      return reply
        .code(200)
        .type('text/html; charset=utf-8')
        .send(page('<p>You are unsubscribed: you will not receive more emails from this sequence.</p>'));
    });
    // The footer link: a page with a button, so link scanners that prefetch GETs unsubscribe nobody.
    scope.get('/u/:token', async (request, reply) => {
      const { token } = request.params as { token: string };
      if (!verifyUnsubscribe(deps.unsubscribeSecret, token))
        throw new AppError('not_found', 'This unsubscribe link is not valid');
      return reply
        .code(200)
        .type('text/html; charset=utf-8')
        .send(
          page(
            `<form method="post" action="${encodeURIComponent(token)}"><p>Stop receiving these emails?</p><button type="submit">Unsubscribe</button></form>`,
          ),
        );
    });
  });
}
