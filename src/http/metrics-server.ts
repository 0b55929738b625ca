import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';

/**
 * Prometheus scrapes its own listener (METRICS_PORT, on 127.0.0.1 unless METRICS_HOST says
 * otherwise), never the public one that serves the API and Slack: queue depths and route
 * timings are for operators, not for anyone who can reach PUBLIC_URL.
 */
export function buildMetricsServer(metrics: Metrics): FastifyInstance {
  const server = Fastify({ logger: false });
  server.get('/metrics', async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
  return server;
}
