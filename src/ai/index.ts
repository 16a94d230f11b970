import type { Config } from "../config.ts";
import { LlmAnalyzer, RuleBasedAnalyzer, type ConversationAnalyzer } from "./analyzer.ts";
import { KnowledgeBaseResponder } from "./kb-responder.ts";
import { LlmClient } from "./llm-client.ts";
import { LlmResponder } from "./llm-responder.ts";
import type { Responder } from "./responder.ts";

/** The responder the configuration asks for: the knowledge base unless an LLM endpoint is set. */
export function createResponder(config: Config): Responder {
  return config.llm ? new LlmResponder(new LlmClient(config.llm)) : new KnowledgeBaseResponder();
}

/** The conversation analyzer: rule-based unless an LLM endpoint is set (then rules are its fallback). */
export function createAnalyzer(config: Config): ConversationAnalyzer {
  return config.llm ? new LlmAnalyzer(new LlmClient(config.llm)) : new RuleBasedAnalyzer();
}
