import client from 'prom-client';

export interface DeliveryMetrics {
  messages: client.Counter<'status' | 'provider'>;
  providerDuration: client.Histogram<'provider' | 'outcome'>;
  /** Provider calls whose result never came back (timeout after the request was sent). */
  unknownOutcomes: client.Counter<'provider'>;
  /** `sent` refused because the worker's claim was taken over while it sent (a duplicate is likely). */
  staleSends: client.Counter<'provider'>;
}

/**
 * Delivery metrics on the process registry. Counters are per process (Prometheus sums them);
 * circuit state is read from Redis at scrape time because it is shared by every process.
 */
export function createDeliveryMetrics(
  registry: client.Registry,
  circuitStates?: () => Promise<{ provider: string; state: 'open' | 'closed' | 'half_open' }[]>,
): DeliveryMetrics {
  const messages = new client.Counter({
    name: 'briefly_messages_total',
    help: 'Message state changes made by this process, by status and provider',
    labelNames: ['status', 'provider'] as const,
    registers: [registry],
  });
  const providerDuration = new client.Histogram({
    name: 'briefly_email_provider_duration_seconds',
    help: 'Duration of email provider send calls, by provider and outcome',
    labelNames: ['provider', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const unknownOutcomes = new client.Counter({
    name: 'briefly_email_unknown_outcomes_total',
    help: 'Provider calls that timed out or broke after the request was sent: the provider may have the message',
    labelNames: ['provider'] as const,
    registers: [registry],
  });
  const staleSends = new client.Counter({
    name: 'briefly_email_stale_sends_total',
    help: 'Provider acceptances not recorded as sent because another worker had taken the message over',
    labelNames: ['provider'] as const,
    registers: [registry],
  });
  if (circuitStates) {
    new client.Gauge({
      name: 'briefly_email_provider_circuit_open',
      help: '1 when the provider circuit is open (traffic goes to the next provider), 0.5 when half-open (trial messages only), else 0',
      labelNames: ['provider'] as const,
      registers: [registry],
      async collect() {
        // Redis away: the scrape answers without this gauge rather than failing as a whole.
        const states = await circuitStates().catch(() => []);
        this.reset();
        for (const state of states)
          this.set(
            { provider: state.provider },
            state.state === 'open' ? 1 : state.state === 'half_open' ? 0.5 : 0,
          );
      },
    });
  }
  return { messages, providerDuration, unknownOutcomes, staleSends };
}
