/** Waiting in tests: polling for a condition, and plain delays. */

export interface PollOptions {
  /** Give up (throw) after this long. Default 10 s. */
  timeoutMs?: number;
  /** Pause between probes. Default 25 ms. */
  intervalMs?: number;
}

/**
 * Probes until it answers something truthy and resolves with that; throws
 * `timed out waiting for <what>` once `timeoutMs` has passed.
 */
export async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, options: PollOptions = {}): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 25 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** until() with other defaults, for a file whose waits are all alike. */
export function poller(defaults: PollOptions) {
  return <T>(what: string, probe: () => Promise<T | null | undefined | false>, options: PollOptions = {}) =>
    until(what, probe, { ...defaults, ...options });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
