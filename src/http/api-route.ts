import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ApiKeyPrincipal } from '../api-keys/api-key.service.ts';
import { hasScope } from '../api-keys/scopes.ts';
import { AppError, zodFields } from '../errors.ts';
import { findBadText } from '../shared/text.ts';
import type { RouteDoc } from './openapi.ts';

export interface ApiContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  principal: ApiKeyPrincipal;
  request: FastifyRequest;
}

export interface ApiReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ApiRoute extends RouteDoc {
  handler(ctx: ApiContext<unknown, unknown, unknown>): Promise<ApiReply>;
}

/** Declares a route once: the same zod schemas validate the request and document it in OpenAPI. */
export function route<
  P extends z.ZodObject | undefined,
  Q extends z.ZodObject | undefined,
  B extends z.ZodType | undefined,
>(
  doc: RouteDoc & { params?: P; query?: Q; body?: B },
  handler: (
    ctx: ApiContext<
      P extends z.ZodType ? z.output<P> : undefined,
      Q extends z.ZodType ? z.output<Q> : undefined,
      B extends z.ZodType ? z.output<B> : undefined
    >,
  ) => Promise<ApiReply>,
): ApiRoute {
  return { ...doc, handler: handler as ApiRoute['handler'] };
}

/** The request's media type, lower case, without parameters ("text/csv; charset=utf-8" -> "text/csv"). */
export function mediaType(request: FastifyRequest): string {
  return (
    String(request.headers['content-type'] ?? '')
      .split(';')[0]
      ?.trim()
      .toLowerCase() ?? ''
  );
}

const fieldName = (where: string, field: string) =>
  where === 'body' ? field : `${where}.${field === '(body)' ? '' : field}`.replace(/\.$/, '');

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return undefined;
  // Before any schema: text PostgreSQL cannot store is refused wherever it is, even in free-form
  // fields (metadata, template data) that no field schema looks into.
  const bad = findBadText(value);
  if (bad) throw AppError.validation([{ field: fieldName(where, bad.field), message: bad.message }]);
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw AppError.validation(
    zodFields(result.error.issues).map((f) => ({ field: fieldName(where, f.field), message: f.message })),
  );
}

export function mountRoutes(
  server: FastifyInstance,
  routes: ApiRoute[],
  authenticate: (request: FastifyRequest) => Promise<ApiKeyPrincipal>,
): void {
  for (const r of routes) {
    server.route({
      method: r.method.toUpperCase() as 'GET',
      url: r.path.replace(/\{(\w+)\}/g, ':$1'),
      ...(r.bodyLimit ? { bodyLimit: r.bodyLimit } : {}),
      handler: async (request, reply) => {
        const principal =
          r.auth === false ? { id: 'anonymous', name: 'anonymous', scopes: [] } : await authenticate(request);
        const scope = r.scope ?? 'admin';
        if (r.auth !== false && !hasScope(principal.scopes, scope)) {
          throw new AppError(
            'forbidden',
            `This API key lacks the "${scope}" scope (it has: ${principal.scopes.join(', ') || 'none'}); create a key with \`briefly api-key create <name> --scopes ${scope}\``,
          );
        }
        const ctx = {
          params: parse(r.params, request.params, 'path'),
          query: parse(r.query, request.query, 'query'),
          // A route may take JSON and a streamed body: the stream reaches the handler unread.
          body: r.rawBody?.contentTypes.includes(mediaType(request))
            ? undefined
            : parse(r.body, request.body, 'body'),
          principal,
          request,
        };
        const result = await r.handler(ctx);
        if (result.headers) reply.headers(result.headers);
        reply.code(result.status);
        return result.body === undefined ? reply.send() : reply.send(result.body);
      },
    });
  }
}
