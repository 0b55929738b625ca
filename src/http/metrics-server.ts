import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';

/** What a process's own dependencies answer: PostgreSQL decides readiness, Redis only degrades it. */
export interface HealthChecks {
  postgres(): Promise<boolean>;
  redis(): Promise<boolean>;
}

/**
 * Prometheus scrapes its own listener (METRICS_PORT, on 127.0.0.1 unless METRICS_HOST says
 * otherwise), never the public one that serves the API and Slack: queue depths and route
 * timings are for operators, not for anyone who can reach PUBLIC_URL.
 *
 * With `health`, the listener also answers `/healthz` and `/readyz`, the probes of processes
 * that serve no HTTP otherwise (a worker or scheduler pod); same meaning as on the web port.
 */
export function buildMetricsServer(metrics: Metrics, health?: HealthChecks): FastifyInstance {
  const server = Fastify({ logger: false });
  server.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  if (health) {
    server.get('/healthz', async () => ({ status: 'ok' }));
    server.get('/readyz', async (_request, reply) => {
      const [postgres, redis] = await Promise.all([
        within(health.postgres(), 2_000),
        within(health.redis(), 2_000),
      ]);
      return reply
        .code(postgres ? 200 : 503)
        .send({ status: !postgres ? 'not_ready' : redis ? 'ready' : 'degraded' });
    });
  }
  return server;
}

async function within(check: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([check.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
