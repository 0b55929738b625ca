import { Server as NetServer } from 'node:net';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { ApiKeyPrincipal, ApiKeyService } from '../api-keys/api-key.service.ts';
import { hasScope } from '../api-keys/scopes.ts';
import type { ErrorReporter } from '../error-tracking/error-reporter.ts';
import { AppError, isAppError } from '../errors.ts';
import { describeError, type Logger } from '../logging/logger.ts';
import { SummarizedLog } from '../logging/summarized-log.ts';
import type { FastifyReceiver } from '../slack/fastify-receiver.ts';
import { type ApiRoute, mountRoutes } from './api-route.ts';
import type { Metrics } from './metrics.ts';
import { buildOpenApi } from './openapi.ts';
import { SlidingWindowLimiter } from './rate-limit.ts';
import { securityHeaders } from './security-headers.ts';

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
  /**
   * Sliding 60-second limits kept in Redis (shared by every web process), or in memory while
   * Redis is away: per API key on /v1; per client address for /v1 requests without a valid key;
   * per client address on /slack/events, /webhooks, /oauth and /admin.
   */
  rateLimits: { perKeyPerMinute: number; unauthenticatedPerMinute: number; webhookPerMinute: number };
  redisPrefix: string;
  /** Fastify's trustProxy: which proxies may name the client address (X-Forwarded-For). */
  trustProxy?: boolean | number | string[];
  /** Provider webhooks: registered in their own scope (they need the raw body for signatures). */
  webhooks?: (server: FastifyInstance) => Promise<void>;
  /** The admin web UI under /admin, in its own scope (HTML pages, form bodies, its own CSP). */
  admin?: (server: FastifyInstance) => Promise<void>;
  /** Unexpected errors (answered 500) are reported here as well as logged. */
  errors?: ErrorReporter;
}

const MINUTE_MS = 60_000;
/** A rate-limit decision that waits longer than this on Redis is made locally instead. */
const RATE_LIMIT_REDIS_TIMEOUT_MS = 250;

/** While draining, this long without any request means the remaining sockets are idle. */
const DRAIN_QUIET_MS = 500;
/** Shutdown of each server built here: see stopHttpServer. */
const drains = new WeakMap<FastifyInstance, (graceMs: number) => Promise<void>>();

function problem(
  status: number,
  title: string,
  detail: string,
  errors?: { field: string; message: string }[],
) {
  return { type: 'about:blank', title, status, detail, ...(errors?.length ? { errors } : {}) };
}

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const server = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimit,
    trustProxy:
      typeof deps.trustProxy === 'number'
        ? (_address: string, hop: number) => hop < (deps.trustProxy as number)
        : (deps.trustProxy ?? false),
    // On close, requests already being handled finish; new ones on open connections get 503.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // A path Fastify cannot decode (e.g. %ED%A0%80, an encoded lone surrogate) is bad input too.
    frameworkErrors: (error, _request, reply) =>
      (reply as FastifyReply)
        .code(400)
        .type('application/problem+json')
        .send(
          problem(400, 'bad_request', error.message, [{ field: '(path)', message: 'is not a valid URL' }]),
        ),
  });
  const log = deps.logger.child({ component: 'http' });
  const bearerPrincipal = async (request: FastifyRequest): Promise<ApiKeyPrincipal | undefined> => {
    const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
    return match?.[1] ? deps.apiKeys.authenticate(match[1]) : undefined;
  };
  // Anyone can make us answer 401 or 429; one line per rejection would let them flood the logs.
  const rejections = new SummarizedLog(log);
  let draining = false;

  server.addHook('onSend', async (_request, reply, payload) => {
    // While draining, every answer (also of requests that began before) closes its connection,
    // so no client reuses a socket we are about to close (a request written onto a closing
    // keep-alive socket is reset).
    if (draining) reply.header('connection', 'close');
    return payload;
  });
  server.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpDuration.observe(
      { method: request.method, route, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    if (reply.statusCode >= 500)
      log.warn('request failed', { method: request.method, route, status: reply.statusCode });
    if (reply.statusCode === 401 || reply.statusCode === 429) {
      const address = normalizeIP(request.ip);
      rejections.warn(
        reply.statusCode === 429 ? 'request rate-limited' : 'request rejected (unauthenticated)',
        `${route} ${address}`,
        { method: request.method, route, status: reply.statusCode, address },
      );
    }
  });
  server.addHook('onClose', async () => rejections.close());

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
        .send(
          problem(
            413,
            'payload_too_large',
            `Request body is larger than ${request.routeOptions.bodyLimit ?? deps.bodyLimit} bytes`,
          ),
        );
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
    log.error('unhandled error', {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      ...describeError(error),
    });
    deps.errors?.capture(error, {
      component: 'http',
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      request_id: String(request.id),
    });
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
  // Ready means able to accept work, which needs PostgreSQL only: with Redis away the API still
  // stores every message (the sweeper queues it later), so Redis down is `degraded`, not 503.
  server.get('/readyz', async (request, reply) => {
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
    const ready = postgres === 'ok' && !draining;
    const status = draining ? 'stopping' : !ready ? 'not_ready' : redis === 'ok' ? 'ready' : 'degraded';
    // Anonymous callers (load balancers) get the verdict only; which dependency failed and why is
    // for operators holding an admin-scoped key.
    const principal = await bearerPrincipal(request).catch(() => undefined);
    const details = principal && hasScope(principal.scopes, 'admin');
    return reply
      .code(ready ? 200 : 503)
      .send({ status, ...(details ? { checks: { postgres, redis } } : {}) });
  });

  const document = buildOpenApi(deps.routes, { version: deps.version, serverUrl: deps.publicUrl });
  server.get('/openapi.json', async () => document);
  await server.register(swagger, { mode: 'static', specification: { document: document as never } });
  await server.register(swaggerUi, { routePrefix: '/docs' });
  // Security headers on every answer (the API is JSON, but /docs is a page a browser renders).
  // The CSP admits swagger-ui's own inline script and style by the hashes it publishes.
  await server.register(securityHeaders, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        scriptSrc: ["'self'", ...server.swaggerCSP.script],
        styleSrc: ["'self'", ...server.swaggerCSP.style],
        // /docs is also opened over plain http://localhost in development.
        upgradeInsecureRequests: null,
      },
    },
  });

  const limiter = new SlidingWindowLimiter({
    redis: deps.redis,
    prefix: deps.redisPrefix,
    timeoutMs: RATE_LIMIT_REDIS_TIMEOUT_MS,
    onFallback: (error) =>
      rejections.warn('rate limiter fell back to local limits', 'redis', { error: error.message }),
  });
  const tooMany = (result: { ttl: number; max: number }, what: string) =>
    new AppError('rate_limited', `More than ${result.max} requests in 60 seconds ${what}; slow down`, {
      retryAfterSeconds: Math.max(1, Math.ceil(result.ttl / 1000)),
    });
  await server.register(rateLimit, {
    global: false,
    store: limiter.store(),
    // The store already falls back to local limits; this only guards against a bug in it.
    skipOnError: true,
    timeWindow: MINUTE_MS,
    errorResponseBuilder: (_request, context) => tooMany(context, 'from this address'),
  });
  const address = (request: FastifyRequest) => normalizeIP(request.ip);
  const principals = new WeakMap<FastifyRequest, string>();
  const perKey = server.createRateLimit({
    max: deps.rateLimits.perKeyPerMinute,
    timeWindow: MINUTE_MS,
    keyGenerator: (request) => `key:${principals.get(request)}`,
  });
  const perAddress = server.createRateLimit({
    max: deps.rateLimits.unauthenticatedPerMinute,
    timeWindow: MINUTE_MS,
    keyGenerator: (request) => `addr:${address(request)}`,
  });
  const exceeded = (result: Awaited<ReturnType<typeof perKey>>) =>
    result.isAllowed ? undefined : result.isExceeded ? result : undefined;
  /** Every request to /slack/events, /webhooks and /oauth, per client address. */
  const perAddressHook = server.rateLimit({
    max: deps.rateLimits.webhookPerMinute,
    timeWindow: MINUTE_MS,
    keyGenerator: (request) => `hook:${address(request)}`,
  });

  const verifyApiKey = async (request: FastifyRequest): Promise<ApiKeyPrincipal> => {
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
    return principal;
  };
  /**
   * A valid key is limited per key, so many clients behind one address (a NAT, a proxy) do not
   * share one budget and one misconfigured client there cannot lock the others out. A request
   * without a valid key counts toward its address's limit; past it, the answer is 429 instead of
   * 401. (The key is looked up first: a SHA-256 and one indexed, batched query.)
   */
  const authenticate = async (request: FastifyRequest): Promise<ApiKeyPrincipal> => {
    let principal: ApiKeyPrincipal;
    try {
      principal = await verifyApiKey(request);
    } catch (error) {
      if (!isAppError(error) || error.code !== 'unauthorized') throw error;
      const over = exceeded(await perAddress(request));
      if (over) throw tooMany(over, 'without a valid API key from this address');
      throw error;
    }
    principals.set(request, principal.id);
    const over = exceeded(await perKey(request));
    if (over) throw tooMany(over, 'for this API key');
    return principal;
  };
  // Streamed uploads (CSV/NDJSON imports) reach their handler unread, so they are never buffered whole.
  const rawTypes = [...new Set(deps.routes.flatMap((r) => r.rawBody?.contentTypes ?? []))];
  if (rawTypes.length > 0)
    server.addContentTypeParser(rawTypes, (_request, payload, done) => done(null, payload));
  mountRoutes(server, deps.routes, authenticate);
  if (deps.webhooks)
    await server.register(async (scope) => {
      scope.addHook('onRequest', perAddressHook);
      await deps.webhooks?.(scope);
    });

  if (deps.admin)
    await server.register(async (scope) => {
      scope.addHook('onRequest', perAddressHook);
      await deps.admin?.(scope);
    });

  await server.register(async (scope) => {
    scope.addHook('onRequest', perAddressHook);
    if (deps.slackReceiver) {
      deps.slackReceiver.register(scope);
    } else {
      scope.post('/slack/events', async (_request, reply) =>
        reply
          .code(503)
          .type('application/problem+json')
          .send(problem(503, 'slack_not_configured', deps.slackSetupHint)),
      );
    }
  });

  // Requests in progress on the raw server (any route, 404s included) and when the last one ended.
  let active = 0;
  let lastActivity = 0;
  server.server.on('request', (_request: unknown, response: NodeJS.EventEmitter) => {
    active++;
    response.once('close', () => {
      active--;
      lastActivity = Date.now();
    });
  });
  drains.set(server, async (graceMs) => {
    draining = true;
    // Stop taking new connections but keep the open ones: http.Server#close would also drop idle
    // keep-alive sockets at once, resetting requests clients are writing onto them right now.
    if (server.server.listening) NetServer.prototype.close.call(server.server);
    // Done when every connection is gone, or nothing has run for a while (a client idling on a
    // keep-alive socket is not about to send; Fastify closes those), or the grace is spent.
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && (await openConnections(server)) > 0) {
      if (active === 0 && Date.now() - lastActivity >= DRAIN_QUIET_MS) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  return server;
}

function openConnections(server: FastifyInstance): Promise<number> {
  return new Promise((resolve) => server.server.getConnections((error, count) => resolve(error ? 0 : count)));
}

/**
 * Graceful stop: /readyz turns 503 so load balancers look elsewhere, no new connections are
 * accepted, every answer carries `Connection: close`, and open connections get up to `graceMs`
 * to finish their requests and go; then Fastify closes (what is still running completes, idle
 * sockets are closed, late requests on open sockets get 503).
 */
export async function stopHttpServer(server: FastifyInstance, graceMs: number): Promise<void> {
  await drains.get(server)?.(graceMs);
  await server.close();
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
