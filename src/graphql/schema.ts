import { lexicographicSortSchema } from "graphql";
import { builder } from "./builder.ts";
import "./scalars.ts";
import "./workspaces.ts";
import "./credentials.ts";
import "./viewer.ts";
import "./knowledge-base.ts";
import "./ai-actions.ts";
import "./chatbot-settings.ts";
import "./widget.ts";
import "./articles.ts";
import "./conversations.ts";
import "./live-chat.ts";
import "./visitor-chat.ts";
import "./conversation-metadata.ts";

export const schema = lexicographicSortSchema(builder.toSchema());
