import { z } from 'zod';
import type { ApiScope } from '../api-keys/scopes.ts';

/** The RFC 7807 problem document every error answer uses. */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

export interface RouteDoc {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** OpenAPI-style path: /v1/reps/{id}. */
  path: string;
  summary: string;
  tag: string;
  auth?: boolean;
  /** The scope an API key needs for this route; a route that names none is admin-only. */
  scope?: ApiScope;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** A larger request body limit than API_BODY_LIMIT_BYTES for this route (attachments). */
  bodyLimit?: number;
  /**
   * A streamed, non-JSON body (e.g. a CSV import): the handler reads `request.body` as a stream.
   * With `body` too, the route also takes JSON; for these content types `body` is then undefined.
   */
  rawBody?: { contentTypes: string[]; example?: string; examples?: Record<string, string> };
  responses: Record<number, { description: string; schema?: z.ZodType }>;
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { target: 'openapi-3.0', io, unrepresentable: 'any' }) as Record<string, unknown>;

/**
 * Builds the OpenAPI 3 document from the same zod schemas the handlers validate with, so the
 * documentation cannot drift from what the API accepts.
 */
export function buildOpenApi(routes: RouteDoc[], info: { version: string; serverUrl: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const parameters: unknown[] = [];
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!schema) continue;
      for (const [name, field] of Object.entries(schema.shape)) {
        const fieldSchema = field as z.ZodType;
        parameters.push({
          name,
          in: where,
          required: where === 'path' || !fieldSchema.safeParse(undefined).success,
          schema: jsonSchema(fieldSchema, 'input'),
        });
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema
          ? { content: { 'application/json': { schema: jsonSchema(response.schema, 'output') } } }
          : {}),
      };
    }
    if (route.auth !== false) {
      responses['401'] = {
        description: 'Missing, unknown or revoked API key',
        content: { 'application/problem+json': { schema: jsonSchema(problemSchema, 'output') } },
      };
      responses['403'] = {
        description: `The API key lacks the "${route.scope ?? 'admin'}" scope`,
        content: { 'application/problem+json': { schema: jsonSchema(problemSchema, 'output') } },
      };
    }
    paths[route.path] ??= {};
    (paths[route.path] as Record<string, unknown>)[route.method] = {
      summary: route.summary,
      ...(route.auth !== false
        ? { description: `Needs an API key with the \`${route.scope ?? 'admin'}\` scope.` }
        : {}),
      tags: [route.tag],
      // OpenAPI 3.0 allows scope lists only for OAuth2 schemes: the key's scope goes in an extension.
      ...(route.auth !== false ? { security: [{ apiKey: [] }], 'x-scope': route.scope ?? 'admin' } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body || route.rawBody
        ? {
            requestBody: {
              required: true,
              content: {
                ...(route.body ? { 'application/json': { schema: jsonSchema(route.body, 'input') } } : {}),
                ...Object.fromEntries(
                  (route.rawBody?.contentTypes ?? []).map((type) => [
                    type,
                    {
                      schema: { type: 'string' },
                      ...((route.rawBody?.examples?.[type] ?? route.rawBody?.example)
                        ? { example: route.rawBody?.examples?.[type] ?? route.rawBody?.example }
                        : {}),
                    },
                  ]),
                ),
              },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'Briefly API',
      version: info.version,
      description:
        "REST API of Briefly. Authenticate with `Authorization: Bearer <API key>` (create one with `briefly api-key create <name> --scopes send,read`). Each operation names the scope it needs: `send`, `read` (the key's own messages), `read:all` (every message) or `admin` (everything).",
    },
    servers: [{ url: info.serverUrl }],
    components: {
      securitySchemes: {
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          description: 'API key created with `briefly api-key create`',
        },
      },
    },
    paths,
  };
}
