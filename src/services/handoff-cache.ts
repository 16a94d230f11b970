import { forget, registerCache } from "./caches.ts";
import type { HandoffConfigurationJson } from "./handoff-config-input.ts";

// The handoff configuration as the chat flow reads it on every visitor message, kept in process
// memory like chat-settings.ts: with handoff off, a message then costs no statement at all. The
// configuration service forgets an entry when it changes the configuration, here and in this
// server's job workers (caches.ts); other instances on one database see a change within TTL_MS.

const TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

const cache = new Map<string, { value: Promise<HandoffConfigurationJson | null>; at: number }>();

/** null: handoff is off for the scenario (what almost every message asks). */
export function cachedHandoffConfiguration(
  scenarioId: string,
  load: (scenarioId: string) => Promise<HandoffConfigurationJson | null>,
): Promise<HandoffConfigurationJson | null> {
  const now = Date.now();
  const hit = cache.get(scenarioId);
  if (hit && now - hit.at < TTL_MS) return hit.value;
  const value = load(scenarioId);
  value.catch(() => cache.delete(scenarioId));
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(scenarioId, { value, at: now });
  return value;
}

const CACHE = "handoff-configuration";
registerCache(CACHE, (scenarioId) => cache.delete(scenarioId));

/** Called by the configuration service after every change of a scenario's handoff configuration. */
export function forgetHandoffConfiguration(scenarioId: string): void {
  forget(CACHE, scenarioId);
}
