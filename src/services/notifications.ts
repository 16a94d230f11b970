import type { ServiceContext } from "./context.ts";
import type { ConversationRow } from "./conversation-view.ts";
import type { NewEmail } from "./email.ts";
import { routingProfileMembers, type HandoffConfigurationJson, type RoutingProfileJson } from "./handoff-configuration.ts";
import { speaker, type TranscriptLine } from "./handoff-triggers.ts";

// Who hears of a handoff, and what the email says. The routing profile's members are notified; when
// no profile matched (or none of its members has an email address), settings.emails are. Nothing
// is sent unless send_email_notification is on.

const TRIGGER_LABELS: Record<string, string> = {
  keyword: "the visitor asked for a person",
  lack_of_knowledge: "the assistant could not answer",
  user_frustration: "the visitor seems frustrated",
  media_message: "the visitor sent a file",
  customer_support_suggestion: "the question needs customer support",
  irrelevant_advice: "the assistant's answers did not help",
  manual: "handed over manually",
};

export function triggerLabel(trigger: string | null, config: HandoffConfigurationJson): string {
  if (!trigger) return "the visitor asked for a person";
  if (trigger.startsWith("custom:")) {
    const id = Number(trigger.slice("custom:".length));
    const g = config.custom_guidelines.find((c) => c.id === id);
    return g ? `guideline "${g.name}"` : "a custom guideline";
  }
  return TRIGGER_LABELS[trigger] ?? trigger;
}

/** Lower-cased, each once, in order. */
function distinct(addresses: string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = a.trim().toLowerCase();
    if (!key || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export async function handoffRecipients(ctx: Pick<ServiceContext, "db">, config: HandoffConfigurationJson, profile: RoutingProfileJson | null): Promise<string[]> {
  if (!config.settings.send_email_notification) return [];
  if (profile) {
    const members = await routingProfileMembers(ctx.db, profile.id);
    const emails = distinct(members.flatMap((m) => (m.email ? [m.email] : [])));
    if (emails.length) return emails;
  }
  return distinct(config.settings.emails);
}

export interface HandoffNotice {
  workspaceId: string;
  scenarioName: string;
  conversation: ConversationRow;
  trigger: string | null;
  profile: RoutingProfileJson | null;
  summary: string | null;
  withinWorkingHours: boolean;
  transcript: TranscriptLine[];
}

const RECENT_MESSAGES = 8;

/** One email per recipient (the outbox keeps one address per row). */
export function handoffEmails(recipients: string[], notice: HandoffNotice, config: HandoffConfigurationJson): NewEmail[] {
  const c = notice.conversation;
  const who = [c.visitorName, c.visitorEmail ? `<${c.visitorEmail}>` : null].filter(Boolean).join(" ") || "A visitor";
  const title = c.title && c.title !== `Conversation ${c.ord}` ? `: ${c.title}` : "";
  const subject = `Handoff to your team — conversation #${c.ord}${title}`.slice(0, 200);
  const recent = notice.transcript
    .filter((m) => m.content.trim())
    .slice(-RECENT_MESSAGES)
    .map((m) => `${speaker(m.author)}: ${m.content.replace(/\s+/g, " ").trim()}`);
  const text = [
    `${who} on ${notice.scenarioName} wants to talk to a person (${triggerLabel(notice.trigger, config)}).`,
    notice.withinWorkingHours ? "" : "This came in outside your working hours; the visitor was told so.",
    "",
    `Conversation: #${c.ord} (id ${c.id})`,
    notice.profile ? `Routing: ${notice.profile.name}` : "",
    c.url ? `Page: ${c.url}` : "",
    notice.summary ? `\nSummary:\n${notice.summary}` : "",
    recent.length ? `\nLatest messages:\n${recent.join("\n")}` : "",
  ]
    .filter((line, i, all) => line !== "" || (i > 0 && all[i - 1] !== ""))
    .join("\n")
    .trim();
  return recipients.map((to) => ({
    workspaceId: notice.workspaceId,
    scenarioId: c.scenarioId,
    to,
    subject,
    text,
    kind: "handoff_notification",
    conversationId: c.id,
  }));
}
