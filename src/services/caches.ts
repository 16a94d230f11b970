// In-process caches of settings the chat path reads on every message (chat settings, handoff
// configuration) are dropped by the services that change them. Forgetting goes through here so
// that the other processes serving the same database hear of it too: the server relays each
// forget to its job worker processes, and with Redis to the other instances (which pass it on to
// their own job workers).

const forgetters = new Map<string, (key: string) => void>();
let relay: ((cache: string, key: string) => void) | undefined;
const peers = new Set<(cache: string, key: string) => void>();

/** Registers how `cache` drops an entry. */
export function registerCache(cache: string, forget: (key: string) => void): void {
  forgetters.set(cache, forget);
}

/** Drops `key` from `cache` here and, through the relays, in the other processes and instances. */
export function forget(cache: string, key: string): void {
  forgetFromPeer(cache, key);
  for (const share of peers) share(cache, key);
}

/** Drops `key` from `cache` in this process only (what another process relayed). */
export function forgetLocally(cache: string, key: string): void {
  forgetters.get(cache)?.(key);
}

/**
 * What another instance forgot: dropped here and in this instance's job workers, not sent back to
 * the instances.
 */
export function forgetFromPeer(cache: string, key: string): void {
  forgetLocally(cache, key);
  relay?.(cache, key);
}

/** Where this process's forgets go to its job workers (the server sets it). */
export function relayForgets(to: (cache: string, key: string) => void): void {
  relay = to;
}

/** Sends every forget of this instance to the other instances as well (Redis); returns the undo. */
export function shareForgets(share: (cache: string, key: string) => void): () => void {
  peers.add(share);
  return () => peers.delete(share);
}
