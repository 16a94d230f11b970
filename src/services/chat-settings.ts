import type { ChatbotSettings } from "../generated/sqlite/client.ts";
import { loadChatbotSettings } from "./chatbot-settings.ts";
import type { ServiceContext } from "./context.ts";
import { forget, registerCache } from "./caches.ts";

// What the chat flow reads on every message (the assistant's settings, the widget's streaming
// switch), kept in process memory: two queries per reply are a large share of a message's cost.
// The services that change these rows forget the entry at once, here and in this server's job
// workers (caches.ts); other instances on one database see a change within TTL_MS.

const TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

export interface ChatSettings {
  settings: ChatbotSettings;
  streaming: boolean;
}

const cache = new Map<string, { value: Promise<ChatSettings>; at: number }>();

export function chatSettings(ctx: Pick<ServiceContext, "db">, scenarioId: string): Promise<ChatSettings> {
  const now = Date.now();
  const hit = cache.get(scenarioId);
  if (hit && now - hit.at < TTL_MS) return hit.value;
  const value = Promise.all([
    loadChatbotSettings(ctx, scenarioId),
    ctx.db.widgetConfiguration.findUnique({ where: { scenarioId }, select: { streamingActive: true } }),
  ]).then(([settings, widget]) => ({ settings, streaming: widget?.streamingActive ?? true }));
  value.catch(() => cache.delete(scenarioId));
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(scenarioId, { value, at: now });
  return value;
}

const CACHE = "chat-settings";
registerCache(CACHE, (scenarioId) => cache.delete(scenarioId));

/** Called by every service that changes a scenario's chatbot settings or widget configuration. */
export function forgetChatSettings(scenarioId: string): void {
  forget(CACHE, scenarioId);
}
