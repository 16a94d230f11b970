import type { Config } from "../config.ts";
import type { OutboundGuard } from "../services/outbound-guard.ts";
import { LlmAnalyzer, RuleBasedAnalyzer, type ConversationAnalyzer } from "./analyzer.ts";
import { KnowledgeBaseResponder } from "./kb-responder.ts";
import { LlmClient } from "./llm-client.ts";
import { LlmResponder } from "./llm-responder.ts";
import type { Responder } from "./responder.ts";

/** The responder the configuration asks for: the knowledge base unless an LLM endpoint is set (reached through `guard`, the runtime's). */
export function createResponder(config: Config, guard?: OutboundGuard): Responder {
  return config.llm ? new LlmResponder(new LlmClient(config.llm, guard)) : new KnowledgeBaseResponder();
}

/** The conversation analyzer: rule-based unless an LLM endpoint is set (then rules are its fallback). */
export function createAnalyzer(config: Config, guard?: OutboundGuard): ConversationAnalyzer {
  return config.llm ? new LlmAnalyzer(new LlmClient(config.llm, guard)) : new RuleBasedAnalyzer();
}
