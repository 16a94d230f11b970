import { unauthenticated } from "../errors.ts";
import { requirePrincipal } from "./access.ts";
import type { ServiceContext } from "./context.ts";

// The SKILL.md an OpenClaw agent installs (~/.openclaw/workspace/skills/quincer/SKILL.md) to drive
// this server: the takeover endpoints and the leads & activities endpoints, with this server's own
// base URL in every example, and the key in QUINCER_API_KEY (skills.entries.quincer.env).

const ENV = "QUINCER_API_KEY";

function frontmatter(): string {
  // metadata as one line of JSON: both OpenClaw's loader and YAML parsers read it.
  const metadata = { openclaw: { requires: { env: [ENV], bins: ["curl"] }, primaryEnv: ENV } };
  return [
    "---",
    "name: quincer",
    "description: Take over live customer chats from the AI assistant, reply to visitors as a human agent, hand chats back, and read or update leads and activities on a Quincer-compatible (Parley) server.",
    `metadata: ${JSON.stringify(metadata)}`,
    "---",
  ].join("\n");
}

export async function openclawSkill(ctx: ServiceContext, baseUrl: string): Promise<string> {
  const p = requirePrincipal(ctx.principal);
  if (p.kind !== "developer") throw unauthenticated("Invalid API key");
  const member = p.memberId ? await ctx.loaders.member.load(p.memberId) : null;
  const b = baseUrl.replace(/\/+$/, "");
  const auth = `-H "Authorization: Bearer $${ENV}"`;
  const identity = member
    ? `Your key acts as the team member **${member.name}**: your takeovers, replies and handbacks appear under that name (and avatar) in the inbox, in the visitor's chat and in the audit trail.`
    : "Your key is not bound to a team member: your actions are recorded under the key itself.";
  return `${frontmatter()}

# Quincer conversations and leads

Use this skill to step into live website chats handled by the Quincer AI assistant at ${b}:
fetch a conversation, take it over (the AI stops answering), reply to the visitor as a human agent,
and hand it back to the AI when you are done. You can also read and update leads and read the
agents' activity log.

- Base URL: \`${b}\`
- Authentication: every request sends \`Authorization: Bearer $${ENV}\` (a \`cw_dev_\` developer key).
- ${identity}
- Key scopes: ${[...p.scopes].sort().join(", ") || "(none)"}.
- Request and response bodies are JSON. Errors are \`{"error": "<message>"}\` with the HTTP status:
  401 missing or invalid key, 403 the key lacks the endpoint's scope (or the action is not yours
  to take), 404 no such conversation or lead in your workspace, 409 the conversation's takeover
  state does not allow the action, 422 invalid input, 429 rate limit exceeded.
- Rate limits per key: 100 reads and 30 writes per minute.

## External agent (takeover) endpoints

| Method | Path | Scope | Purpose |
|---|---|---|---|
| GET | \`/api/v1/conversations/:id\` | conversations:read | Full transcript + metadata + takeover state |
| POST | \`/api/v1/conversations/:id/takeover\` | conversations:takeover | Claim the conversation: the AI stops responding |
| POST | \`/api/v1/conversations/:id/reply\` | conversations:reply | Post a human-agent message (auto-translated to the visitor's language) |
| POST | \`/api/v1/conversations/:id/handback\` | conversations:handback | Release the takeover: the AI resumes |

### Read a conversation

\`\`\`bash
curl -s ${auth} "${b}/api/v1/conversations/$CONVERSATION_ID"
\`\`\`

The answer has \`status\` (\`active\`: the AI answers; \`human_active\`: people or an agent took over),
\`language\` (the visitor's language), \`visitor\`, \`assignee\`, \`takeover\` (null, or who holds it, with
\`heldByYou\`), \`handoff\` and \`messages\` in order (\`author\`: visitor, ai_assistant or human_operator;
\`type\`: message or log).

### Take over

\`\`\`bash
curl -s -X POST ${auth} "${b}/api/v1/conversations/$CONVERSATION_ID/takeover"
\`\`\`

200 with \`{"id", "status": "human_active", "assignee", "takeover": {"heldByYou": true, ...}}\`. Taking over
a conversation you already hold is harmless. 409 when another agent or operator holds it: do not
reply then.

### Reply to the visitor

\`\`\`bash
curl -s -X POST ${auth} -H "Content-Type: application/json" \\
  -d '{"message": "Hi, I am looking into your order now."}' \\
  "${b}/api/v1/conversations/$CONVERSATION_ID/reply"
\`\`\`

201 with the stored message. Write in any language: when a translator is configured the visitor
receives your text translated into the conversation's language (\`translation.original\` keeps what
you wrote; \`translation.translated: false\` with a \`reason\` says it went out as written). 409 when you
do not hold the takeover: take over first. 422 when \`message\` is missing, blank or longer than
10,000 characters.

### Hand back to the AI

\`\`\`bash
curl -s -X POST ${auth} "${b}/api/v1/conversations/$CONVERSATION_ID/handback"
\`\`\`

200 with \`{"status": "active", "assignee": {"type": "ai_assistant"}, "takeover": null}\`: the AI answers
the visitor's next message. 403 when someone else holds the takeover, 409 when nobody does.

## Leads & activities

| Method | Path | Scope | Purpose |
|---|---|---|---|
| GET | \`/api/v1/leads\` | leads:read | List leads. Filters: widgetId, stage, temperature, assignedTo, updatedSince |
| GET | \`/api/v1/leads/:id\` | leads:read | Full lead record (BANT, tags, assigned task history) |
| PATCH | \`/api/v1/leads/:id\` | leads:write | Update stage, temperature, tags, score, assignment, contact info |
| GET | \`/api/v1/activities\` | tasks:read | Agent task log. Filters: leadId, status, type, updatedSince |
| GET | \`/api/v1/activities/:id\` | tasks:read | Full activity record with execution + result data |

\`\`\`bash
curl -s ${auth} "${b}/api/v1/leads?updatedSince=2026-01-01T00:00:00Z"
curl -s ${auth} "${b}/api/v1/leads/$LEAD_ID"
curl -s ${auth} "${b}/api/v1/activities?leadId=$LEAD_ID"
\`\`\`

To update a lead, PATCH \`${b}/api/v1/leads/$LEAD_ID\` with a JSON body holding only the fields to change.

## How to work

1. Read the conversation first; act only when \`takeover\` is null or \`heldByYou\` is true.
2. Take over before replying, keep replies short and specific, and never invent order or account
   details you have not read.
3. Hand back as soon as the visitor's issue is handled: the AI stays silent while you hold the
   conversation.
`;
}
