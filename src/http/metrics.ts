import client from 'prom-client';
import type { Queues } from '../jobs/queues.ts';

export interface Metrics {
  registry: client.Registry;
  httpDuration: client.Histogram<'method' | 'route' | 'status_code'>;
}

/** One registry per process (not prom-client's global one), so tests can build several apps. */
export function createMetrics(queues: Queues | undefined): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  if (queues) {
    new client.Gauge({
      name: 'bullmq_jobs',
      help: 'BullMQ jobs by queue and state',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      async collect() {
        // With Redis away the scrape still answers (without queue depths) instead of hanging.
        if (!queues.ready()) {
          this.reset();
          return;
        }
        const depths = await queues.depths();
        this.reset();
        for (const [queue, counts] of Object.entries(depths)) {
          for (const [state, value] of Object.entries(counts)) this.set({ queue, state }, value);
        }
      },
    });
  }
  return { registry, httpDuration };
}
