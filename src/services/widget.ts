import type { ServiceContext } from "./context.ts";
import { requireWidgetKey } from "./access.ts";
import { loadChatbotSettings } from "./chatbot-settings.ts";

/** The site-key widget's public configuration. */
export async function getWidgetConfig(ctx: ServiceContext): Promise<{ greeting: string }> {
  const { scenarioId } = requireWidgetKey(ctx.principal);
  const settings = await loadChatbotSettings(ctx, scenarioId);
  return { greeting: settings.greeting };
}
