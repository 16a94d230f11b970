// In-process caches of settings the chat path reads on every message (chat settings, handoff
// configuration) are dropped by the services that change them. Forgetting goes through here so
// that the other processes serving the same database hear of it too: the server relays each
// forget to its job worker processes (and a Redis channel can carry them between instances).

const forgetters = new Map<string, (key: string) => void>();
let relay: ((cache: string, key: string) => void) | undefined;

/** Registers how `cache` drops an entry. */
export function registerCache(cache: string, forget: (key: string) => void): void {
  forgetters.set(cache, forget);
}

/** Drops `key` from `cache` here and, through the relay, in the other processes. */
export function forget(cache: string, key: string): void {
  forgetters.get(cache)?.(key);
  relay?.(cache, key);
}

/** Drops `key` from `cache` in this process only (what another process relayed). */
export function forgetLocally(cache: string, key: string): void {
  forgetters.get(cache)?.(key);
}

export function relayForgets(to: (cache: string, key: string) => void): void {
  relay = to;
}
