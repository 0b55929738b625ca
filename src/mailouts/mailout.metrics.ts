import client from 'prom-client';

export interface MailoutMetrics {
  messages: client.Counter<'status'>;
  sendDuration: client.Histogram<'outcome'>;
  sendErrors: client.Counter<'kind'>;
}

/**
 * Mailout metrics on the process registry. Counters count what this process did (Prometheus sums
 * the processes); breaker state and backlog are read at scrape time (shared state).
 */
export function createMailoutMetrics(
  registry: client.Registry,
  shared: { circuitOpen: () => Promise<boolean>; backlog: () => Promise<number> },
): MailoutMetrics {
  const messages = new client.Counter({
    name: 'briefly_mailout_messages_total',
    help: 'Mailout messages that reached a status in this process (pending = created by a fan-out)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const sendDuration = new client.Histogram({
    name: 'briefly_send_api_duration_seconds',
    help: 'Latency of requests to the external send API, by outcome (sent, transient, permanent)',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const sendErrors = new client.Counter({
    name: 'briefly_send_api_errors_total',
    help: 'Failed send API requests by kind (timeout, deadline, connection, http_5xx, http_429, garbage, http_4xx)',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  new client.Gauge({
    name: 'briefly_send_api_circuit_open',
    help: '1 while the send API circuit is open (mailout sending paused), else 0',
    registers: [registry],
    async collect() {
      // Redis away: the scrape answers without this gauge rather than failing as a whole.
      const open = await shared.circuitOpen().catch(() => undefined);
      if (open === undefined) this.reset();
      else this.set(open ? 1 : 0);
    },
  });
  new client.Gauge({
    name: 'briefly_mailout_backlog',
    help: 'Pending messages of running mailouts',
    registers: [registry],
    async collect() {
      const backlog = await shared.backlog().catch(() => undefined);
      if (backlog === undefined) this.reset();
      else this.set(backlog);
    },
  });
  return { messages, sendDuration, sendErrors };
}
