import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { z } from "zod";
import { AppError, notFound, validationError } from "../errors.ts";
import { requireWorkspaceAdmin } from "./access.ts";
import type { Runtime, ServiceContext } from "./context.ts";
import { IntercomClient, IntercomError, TOKEN_REJECTED } from "./kb-intercom-client.ts";
import { parseInput } from "./validation.ts";

// A workspace's Intercom access token. It is checked against Intercom before it is kept, kept
// encrypted (AES-256-GCM under a key derived from the server's signing secret, bound to the
// workspace so a ciphertext moved to another workspace does not open), and never shown again: the
// API shows its last four characters to tell tokens apart.

export interface IntercomConnectionView {
  connected: boolean;
  tokenHint: string | null;
  appName: string | null;
  connectedAt: Date | null;
}

const TokenInput = z.object({
  accessToken: z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(1000, "must be at most 1000 characters")
    // It travels in an Authorization header: no whitespace or control characters.
    .regex(/^[\x21-\x7e]+$/, "must be a single token without spaces"),
});

export const NOT_CONNECTED = "Intercom is not connected: set an access token with the connectIntercom mutation";
export const notConnected = () => validationError(NOT_CONNECTED);

/** Who manages the connection: a developer key with workspace:admin, in its own workspace. */
export function intercomWorkspace(ctx: ServiceContext): string {
  const workspaceId = requireWorkspaceAdmin(ctx);
  if (!workspaceId) throw notFound("Workspace");
  return workspaceId;
}

function tokenKey(signingSecret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", signingSecret, "parley", "intercom-access-token:v1", 32));
}

export function encryptToken(signingSecret: string, workspaceId: string, token: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", tokenKey(signingSecret), iv);
  cipher.setAAD(Buffer.from(workspaceId));
  const ciphertext = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString("base64");
}

export function decryptToken(signingSecret: string, workspaceId: string, stored: string): string {
  const raw = Buffer.from(stored, "base64");
  const decipher = createDecipheriv("aes-256-gcm", tokenKey(signingSecret), raw.subarray(0, 12));
  decipher.setAAD(Buffer.from(workspaceId));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}

const view = (row: { tokenHint: string; appName: string | null; updatedAt: Date } | null): IntercomConnectionView =>
  row
    ? { connected: true, tokenHint: row.tokenHint, appName: row.appName, connectedAt: row.updatedAt }
    : { connected: false, tokenHint: null, appName: null, connectedAt: null };

export async function getIntercomConnection(ctx: ServiceContext): Promise<IntercomConnectionView> {
  const workspaceId = intercomWorkspace(ctx);
  return view(await ctx.db.intercomConnection.findUnique({ where: { workspaceId } }));
}

/** Checks the token with Intercom (GET /me), then keeps it; a rejected token changes nothing. */
export async function connectIntercom(ctx: ServiceContext, input: unknown): Promise<IntercomConnectionView> {
  const workspaceId = intercomWorkspace(ctx);
  const { accessToken } = parseInput(TokenInput, input);
  let appName: string | null;
  try {
    appName = (await new IntercomClient(ctx, ctx.imports, accessToken).me()).appName;
  } catch (err) {
    if (err instanceof IntercomError && err.message === TOKEN_REJECTED) throw validationError(TOKEN_REJECTED, "accessToken");
    ctx.log.warn({ err: err instanceof Error ? err.message : String(err) }, "intercom token check failed");
    throw new AppError("SERVICE_UNAVAILABLE", "Intercom could not be reached to check the access token; try again later");
  }
  const data = {
    tokenCipher: encryptToken(ctx.signingSecret, workspaceId, accessToken),
    tokenHint: accessToken.slice(-4),
    appName,
    connectedBy: ctx.principal?.kind === "developer" ? ctx.principal.credentialId : null,
  };
  const row = await ctx.db.intercomConnection.upsert({ where: { workspaceId }, create: { workspaceId, ...data }, update: data });
  return view(row);
}

/** Forgets the token; answers whether there was one. Imported articles stay (intercom/delete removes them). */
export async function disconnectIntercom(ctx: ServiceContext): Promise<boolean> {
  const workspaceId = intercomWorkspace(ctx);
  const { count } = await ctx.db.intercomConnection.deleteMany({ where: { workspaceId } });
  return count > 0;
}

/** The workspace's token for a job or a route, or null when it has none. */
export async function intercomToken(runtime: Pick<Runtime, "db" | "signingSecret">, workspaceId: string): Promise<string | null> {
  const row = await runtime.db.intercomConnection.findUnique({ where: { workspaceId } });
  if (!row) return null;
  try {
    return decryptToken(runtime.signingSecret, workspaceId, row.tokenCipher);
  } catch {
    // Only a changed signing secret gets here: the token is lost, not wrong.
    throw validationError("The stored Intercom access token cannot be read (the server's secret changed): connect Intercom again");
  }
}
