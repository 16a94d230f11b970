import { createHash, randomBytes } from "node:crypto";
import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import type { CredentialKind, TokenScope } from "./scopes.ts";

export const DEVELOPER_KEY_PREFIX = "cw_dev_";
export const WIDGET_KEY_PREFIX = "cw_live_";
const ISSUER = "parley";

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

/** A short, non-secret prefix shown in lists so people can tell credentials apart. */
export function hintOf(secret: string): string {
  return secret.length > 20 ? `${secret.slice(0, secret.startsWith("ey") ? 6 : 12)}…${secret.slice(-4)}` : "…";
}

export function newOpaqueKey(kind: Exclude<CredentialKind, "scenario_token">): string {
  const body = randomBytes(24).toString("base64url");
  if (kind === "developer") return DEVELOPER_KEY_PREFIX + body;
  if (kind === "widget") return WIDGET_KEY_PREFIX + body;
  return randomBytes(20).toString("hex");
}

/** Which kind a presented secret claims to be, by its shape. */
export function kindOfPresented(secret: string): CredentialKind {
  if (secret.startsWith(DEVELOPER_KEY_PREFIX)) return "developer";
  if (secret.startsWith(WIDGET_KEY_PREFIX)) return "widget";
  if (secret.split(".").length === 3) return "scenario_token";
  return "legacy";
}

export async function signScenarioToken(
  signingSecret: string,
  claims: { id: string; scenarioId: string; scope: TokenScope; issuedAt: Date; expiresAt: Date },
): Promise<string> {
  return new SignJWT({ scenario_id: claims.scenarioId, scope: claims.scope })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setJti(claims.id)
    .setIssuer(ISSUER)
    .setIssuedAt(Math.floor(claims.issuedAt.getTime() / 1000))
    .setExpirationTime(Math.floor(claims.expiresAt.getTime() / 1000))
    .sign(new TextEncoder().encode(signingSecret));
}

export type TokenCheck = { ok: true; jti: string; scenarioId: string } | { ok: false; reason: "expired" | "invalid" };

export async function verifyScenarioToken(signingSecret: string, token: string, now: Date): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(signingSecret), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      currentDate: now,
    });
    if (typeof payload.jti !== "string" || typeof payload.scenario_id !== "string") return { ok: false, reason: "invalid" };
    return { ok: true, jti: payload.jti, scenarioId: payload.scenario_id };
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) return { ok: false, reason: "expired" };
    return { ok: false, reason: "invalid" };
  }
}
