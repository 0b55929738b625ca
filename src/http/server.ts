import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { ApiKeyPrincipal, ApiKeyService } from '../api-keys/api-key.service.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { FastifyReceiver } from '../slack/fastify-receiver.ts';
import { type ApiRoute, mountRoutes } from './api-route.ts';
import type { Metrics } from './metrics.ts';
import { buildOpenApi } from './openapi.ts';

export interface HttpDeps {
  logger: Logger;
  pool: pg.Pool;
  redis: Redis;
  metrics: Metrics;
  apiKeys: ApiKeyService;
  routes: ApiRoute[];
  bodyLimit: number;
  publicUrl: string;
  version: string;
  slackReceiver?: FastifyReceiver;
  /** What /slack/events answers when Slack is not configured. */
  slackSetupHint: string;
  /** Requests per minute per API key on /v1 (a fixed window in Redis, shared by every web process). */
  rateLimitPerMinute: number;
  redisPrefix: string;
  /** Provider webhooks: registered in their own scope (they need the raw body for signatures). */
  webhooks?: (server: FastifyInstance) => Promise<void>;
}

/** INCR a fixed-window counter, setting its expiry on the first hit: one round trip per request. */
const RATE_LIMIT_SCRIPT = `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], 61) end return n`;

function problem(
  status: number,
  title: string,
  detail: string,
  errors?: { field: string; message: string }[],
) {
  return { type: 'about:blank', title, status, detail, ...(errors?.length ? { errors } : {}) };
}

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const server = Fastify({ logger: false, bodyLimit: deps.bodyLimit, trustProxy: true });
  const log = deps.logger.child({ component: 'http' });

  server.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500)
      log.warn('request failed', { method: request.method, route, status: reply.statusCode });
  });

  server.setErrorHandler((error, request, reply) => {
    if (isAppError(error)) {
      if (error.code === 'rate_limited') reply.header('retry-after', String(error.retryAfterSeconds ?? 1));
      return reply
        .code(error.status)
        .type('application/problem+json')
        .send(problem(error.status, error.code, error.message, error.fields));
    }
    const fastifyError = error as { statusCode?: number; code?: string; message: string };
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply
        .code(413)
        .type('application/problem+json')
        .send(problem(413, 'payload_too_large', `Request body is larger than ${deps.bodyLimit} bytes`));
    }
    if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      const detail =
        fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'Content-Type must be application/json'
          : fastifyError.message.replace(
              /^Body is not valid JSON but content-type is set to 'application\/json'/,
              'Body is not valid JSON',
            );
      return reply
        .code(fastifyError.statusCode)
        .type('application/problem+json')
        .send(
          problem(fastifyError.statusCode, 'bad_request', detail, [{ field: '(body)', message: detail }]),
        );
    }
    log.error('unhandled error', { method: request.method, url: request.url, error: fastifyError.message });
    return reply
      .code(500)
      .type('application/problem+json')
      .send(problem(500, 'internal', 'Internal error; it was logged'));
  });

  server.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .type('application/problem+json')
      .send(problem(404, 'not_found', `No route ${request.method} ${request.url.split('?')[0]}`)),
  );

  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/readyz', async (_request, reply) => {
    const [postgres, redis] = await Promise.all([
      withTimeout(
        deps.pool.query('SELECT 1').then(() => 'ok'),
        2_000,
      ),
      withTimeout(
        deps.redis.ping().then(() => 'ok'),
        2_000,
      ),
    ]);
    const ready = postgres === 'ok' && redis === 'ok';
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', checks: { postgres, redis } });
  });
  server.get('/metrics', async (_request, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );

  const document = buildOpenApi(deps.routes, { version: deps.version, serverUrl: deps.publicUrl });
  server.get('/openapi.json', async () => document);
  await server.register(swagger, { mode: 'static', specification: { document: document as never } });
  await server.register(swaggerUi, { routePrefix: '/docs' });

  const authenticate = async (request: FastifyRequest): Promise<ApiKeyPrincipal> => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match?.[1]) {
      throw new AppError(
        'unauthorized',
        'Send an API key as "Authorization: Bearer <key>" (create one with `briefly api-key create <name>`)',
      );
    }
    const principal = await deps.apiKeys.authenticate(match[1]);
    if (!principal) throw new AppError('unauthorized', 'The API key is unknown or revoked');
    const window = Math.floor(Date.now() / 60_000);
    const key = `${deps.redisPrefix}:ratelimit:${principal.id}:${window}`;
    const count = Number(await deps.redis.eval(RATE_LIMIT_SCRIPT, 1, key));
    if (count > deps.rateLimitPerMinute) {
      throw new AppError(
        'rate_limited',
        `More than ${deps.rateLimitPerMinute} requests this minute for this API key`,
        {
          retryAfterSeconds: Math.max(1, Math.ceil(((window + 1) * 60_000 - Date.now()) / 1000)),
        },
      );
    }
    return principal;
  };
  // Streamed uploads (CSV/NDJSON imports) reach their handler unread, so they are never buffered whole.
  const rawTypes = [...new Set(deps.routes.flatMap((r) => r.rawBody?.contentTypes ?? []))];
  if (rawTypes.length > 0)
    server.addContentTypeParser(rawTypes, (_request, payload, done) => done(null, payload));
  mountRoutes(server, deps.routes, authenticate);
  if (deps.webhooks) await server.register(async (scope) => deps.webhooks?.(scope));

  if (deps.slackReceiver) {
    deps.slackReceiver.register(server);
  } else {
    server.post('/slack/events', async (_request, reply) =>
      reply
        .code(503)
        .type('application/problem+json')
        .send(problem(503, 'slack_not_configured', deps.slackSetupHint)),
    );
  }
  return server;
}

async function withTimeout(promise: Promise<string>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise.catch((error: Error) => `error: ${error.message}`), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
