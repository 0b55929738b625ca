import type { CircuitBreaker, CircuitState } from './circuit-breaker.ts';
import { type EmailProvider, type OutgoingEmail, ProviderError, type SendResult } from './email-provider.ts';

export interface SwapEvent {
  provider: string;
  to: 'open' | 'closed';
  reason: string;
  /** 'circuit-breaker', or who did it by hand ('slack:U123'). */
  actor: string;
  at: Date;
}

export interface AttemptEvent {
  provider: string;
  ok: boolean;
  kind?: 'transient' | 'permanent';
  unknownOutcome?: boolean;
  durationMs: number;
  error?: string;
}

export interface FailoverHooks {
  onSwap?(event: SwapEvent): Promise<void> | void;
  onAttempt?(event: AttemptEvent): void;
  /** A probe passed: the provider now gets a few trial messages. */
  onHalfOpen?(provider: string): Promise<void> | void;
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

export interface FailoverSendOptions {
  /**
   * Runs right before each provider call; if it throws, nothing more is called and the error is
   * rethrown (the delivery worker re-checks its claim on the message here).
   */
  beforeAttempt?(provider: string): Promise<void>;
  /**
   * Only this provider, whatever its circuit says: after an unknown outcome the message is
   * retried where it may already be, never elsewhere (until the worker decides otherwise).
   */
  only?: string;
}

/**
 * An EmailProvider over an ordered list of providers, each behind the shared circuit breaker.
 * A transient failure counts against that provider's circuit and the same send moves on to the
 * next provider; a permanent failure (the message itself is wrong) is rethrown at once and does
 * not count against the circuit, since a bad address is not an outage. An unknown outcome (the
 * provider may have the message) counts against the circuit and is rethrown at once: trying the
 * next provider in the same attempt is how messages went out twice.
 *
 * A half-open provider gets only the breaker's few trial messages; the rest go down the list.
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

  /** The read in flight: when the cache runs out, the sends waiting for it share one read. */
  private reading?: Promise<CircuitState[]>;

  /** After a swap: the next send reads the states afresh (not from a read begun before it). */
  private forget(): void {
    this.cached = undefined;
    this.reading = undefined;
  }

  private async sendingStates(): Promise<CircuitState[]> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.stateCacheMs) return this.cached.states;
    if (this.reading) return this.reading;
    const reading = this.states().then(
      (states) => {
        if (this.reading === reading) {
          this.cached = { at: now, states };
          this.reading = undefined;
        }
        return states;
      },
      (error: unknown) => {
        if (this.reading === reading) this.reading = undefined;
        throw error;
      },
    );
    this.reading = reading;
    return reading;
  }

  async send(email: OutgoingEmail, options: FailoverSendOptions = {}): Promise<SendResult> {
    const states = await this.sendingStates();
    let candidates = this.providers.map((provider, index) => ({ provider, state: states[index]?.state }));
    if (options.only) {
      candidates = candidates.filter((c) => c.provider.name === options.only);
      if (candidates.length === 0)
        throw new ProviderError(options.only, 'transient', 'provider not configured');
    } else {
      const usable = candidates.filter((c) => c.state !== 'open');
      // Every circuit open: try them all in order anyway. Holding mail back until a probe succeeds
      // would turn a flaky provider into a full stop; a failed try here costs one backoff.
      if (usable.length > 0) candidates = usable;
    }
    let last: ProviderError | undefined;
    for (const { provider, state } of candidates) {
      const slot =
        !options.only && state === 'half_open' ? await this.breaker.acquire(provider.name) : 'call';
      if (slot === 'skip') continue;
      await options.beforeAttempt?.(provider.name);
      const started = performance.now();
      try {
        const result = await provider.send(email);
        this.hooks.onAttempt?.({
          provider: provider.name,
          ok: true,
          durationMs: performance.now() - started,
        });
        if (slot === 'trial') await this.trialSucceeded(provider.name);
        else await this.breaker.recordSuccess(provider.name);
        return result;
      } catch (caught) {
        const error = asProviderError(provider.name, caught);
        this.hooks.onAttempt?.({
          provider: provider.name,
          ok: false,
          kind: error.kind,
          unknownOutcome: error.unknownOutcome,
          durationMs: performance.now() - started,
          error: error.message,
        });
        if (error.kind === 'permanent') throw error;
        last = error;
        const { opened, state: after } = await this.breaker.recordFailure(provider.name, error.message);
        if (after.state === 'open') this.forget();
        if (opened) {
          await this.hooks.onSwap?.({
            provider: provider.name,
            to: 'open',
            reason: slot === 'trial' ? `half-open trial failed: ${error.message}` : error.message,
            actor: 'circuit-breaker',
            at: new Date(),
          });
        }
        if (error.unknownOutcome) throw error;
      }
    }
    throw last ?? new ProviderError('failover', 'transient', 'no provider could be tried');
  }

  private async trialSucceeded(provider: string): Promise<void> {
    if (!(await this.breaker.recordTrialSuccess(provider))) return;
    this.forget();
    await this.hooks.onSwap?.({
      provider,
      to: 'closed',
      reason: 'half-open trial messages succeeded',
      actor: 'circuit-breaker',
      at: new Date(),
    });
  }

  /**
   * Probes every provider whose circuit is open and whose wait has passed; a success half-opens
   * it (a few real messages then decide), a failure keeps it open for another interval.
   */
  async probeOpenProviders(): Promise<{ provider: string; ok: boolean; error?: string }[]> {
    const states = await this.states();
    const results: { provider: string; ok: boolean; error?: string }[] = [];
    for (const [index, provider] of this.providers.entries()) {
      if (states[index]?.state !== 'open') continue;
      if (!(await this.breaker.probeDue(provider.name))) continue;
      try {
        await provider.probe();
      } catch (error) {
        await this.breaker.probeFailed(provider.name);
        results.push({ provider: provider.name, ok: false, error: (error as Error).message });
        continue;
      }
      results.push({ provider: provider.name, ok: true });
      this.forget();
      if (await this.breaker.halfOpen(provider.name)) await this.hooks.onHalfOpen?.(provider.name);
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
