/** Scenario API tokens (Quickchat): write_all includes every read_all permission. */
export const TOKEN_SCOPES = ["read_all", "write_all"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

/**
 * Developer keys (Quincer): explicit scopes. Parley adds its own: assistant:read/assistant:write
 * (a scenario's settings, knowledge base, widget, ratings and AI actions, as read_all/write_all
 * tokens have them), conversations:write (operator actions: resolve, assign, mark read, terminate,
 * metadata) and workspace:admin (scenarios, team members, tokens and keys).
 */
export const DEVELOPER_SCOPES = [
  "conversations:read",
  "conversations:write",
  "conversations:takeover",
  "conversations:reply",
  "conversations:handback",
  "leads:read",
  "leads:write",
  "tasks:read",
  "assistant:read",
  "assistant:write",
  "workspace:admin",
] as const;
export type DeveloperScope = (typeof DEVELOPER_SCOPES)[number];

export const CREDENTIAL_KINDS = ["scenario_token", "developer", "widget", "legacy"] as const;
export type CredentialKind = (typeof CREDENTIAL_KINDS)[number];

/** Who is calling. `system` is the operator at the admin CLI: it may do anything. */
export type Principal =
  | {
      kind: CredentialKind;
      credentialId: string;
      workspaceId: string;
      scenarioId: string | null;
      memberId: string | null;
      scopes: ReadonlySet<string>;
    }
  | { kind: "system" };

export const SYSTEM: Principal = { kind: "system" };

export function tokenScopes(scope: TokenScope): string[] {
  return scope === "write_all" ? ["read_all", "write_all"] : ["read_all"];
}
