import type { CircuitBreaker, CircuitState } from './circuit-breaker.ts';
import { type EmailProvider, type OutgoingEmail, ProviderError, type SendResult } from './email-provider.ts';

export interface SwapEvent {
  provider: string;
  to: 'open' | 'closed';
  reason: string;
  /** 'circuit-breaker', 'probe', or who did it by hand ('slack:U123'). */
  actor: string;
  at: Date;
}

export interface AttemptEvent {
  provider: string;
  ok: boolean;
  kind?: 'transient' | 'permanent';
  durationMs: number;
  error?: string;
}

export interface FailoverHooks {
  onSwap?(event: SwapEvent): Promise<void> | void;
  onAttempt?(event: AttemptEvent): void;
}

const asProviderError = (provider: string, error: unknown): ProviderError =>
  error instanceof ProviderError
    ? error
    : new ProviderError(
        provider,
        'transient',
        (error as Error)?.message ?? String(error),
        {},
        { cause: error },
      );

/**
 * An EmailProvider over an ordered list of providers, each behind the shared circuit breaker.
 * A transient failure counts against that provider's circuit and the same send moves on to the
 * next provider; a permanent failure (the message itself is wrong) is rethrown at once and does
 * not count against the circuit, since a bad address is not an outage.
 */
export class FailoverEmailProvider implements EmailProvider {
  readonly name = 'failover';
  readonly providerNames: string[];
  /**
   * Circuit states read for sending are reused for this long: one Redis read per message was a
   * visible share of the delivery benchmark. Another process's swap reaches this one within it.
   */
  private cached?: { at: number; states: CircuitState[] };

  constructor(
    private readonly providers: EmailProvider[],
    private readonly breaker: CircuitBreaker,
    private readonly hooks: FailoverHooks = {},
    private readonly stateCacheMs = 500,
  ) {
    if (providers.length === 0) throw new Error('FailoverEmailProvider needs at least one provider');
    this.providerNames = providers.map((p) => p.name);
  }

  states(): Promise<CircuitState[]> {
    return this.breaker.states(this.providerNames);
  }

  private async sendingStates(): Promise<CircuitState[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.stateCacheMs) return this.cached.states;
    const states = await this.states();
    this.cached = { at: now, states };
    return states;
  }

  async send(email: OutgoingEmail): Promise<SendResult> {
    const states = await this.sendingStates();
    let candidates = this.providers.filter((_, index) => states[index]?.state !== 'open');
    // Every circuit open: try them all in order anyway. Holding mail back until a probe succeeds
    // would turn a flaky provider into a full stop; a failed try here costs one backoff.
    if (candidates.length === 0) candidates = this.providers;
    let last: ProviderError | undefined;
    for (const provider of candidates) {
      const started = performance.now();
      try {
        const result = await provider.send(email);
        this.hooks.onAttempt?.({
          provider: provider.name,
          ok: true,
          durationMs: performance.now() - started,
        });
        await this.breaker.recordSuccess(provider.name);
        return result;
      } catch (caught) {
        const error = asProviderError(provider.name, caught);
        this.hooks.onAttempt?.({
          provider: provider.name,
          ok: false,
          kind: error.kind,
          durationMs: performance.now() - started,
          error: error.message,
        });
        if (error.kind === 'permanent') throw error;
        last = error;
        const { opened, state } = await this.breaker.recordFailure(provider.name, error.message);
        if (state.state === 'open') this.cached = undefined;
        if (opened) {
          await this.hooks.onSwap?.({
            provider: provider.name,
            to: 'open',
            reason: error.message,
            actor: 'circuit-breaker',
            at: new Date(),
          });
        }
      }
    }
    throw last ?? new ProviderError('failover', 'transient', 'no provider could be tried');
  }

  /** Probes every provider whose circuit is open; a success closes it and traffic swaps back. */
  async probeOpenProviders(): Promise<{ provider: string; ok: boolean; error?: string }[]> {
    const states = await this.states();
    const results: { provider: string; ok: boolean; error?: string }[] = [];
    for (const [index, provider] of this.providers.entries()) {
      if (states[index]?.state !== 'open') continue;
      try {
        await provider.probe();
      } catch (error) {
        results.push({ provider: provider.name, ok: false, error: (error as Error).message });
        continue;
      }
      results.push({ provider: provider.name, ok: true });
      this.cached = undefined;
      if (await this.breaker.close(provider.name, 'probe succeeded')) {
        await this.hooks.onSwap?.({
          provider: provider.name,
          to: 'closed',
          reason: 'probe succeeded',
          actor: 'probe',
          at: new Date(),
        });
      }
    }
    return results;
  }

  async probe(): Promise<void> {
    await this.probeOpenProviders();
  }

  async close(): Promise<void> {
    await this.breaker.flush();
    await Promise.all(this.providers.map((p) => p.close()));
  }
}
