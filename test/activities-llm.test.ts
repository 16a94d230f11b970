import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { http } from "./helpers/http.ts";
import { startLlmStub, type LlmStub, type StubRequest } from "./helpers/llm-stub.ts";
import { seed, type Tenant } from "./helpers/seed.ts";
import { startServer, type TestServer } from "./helpers/server.ts";
import { until } from "./helpers/wait.ts";

// Tasks with an LLM configured (LLM_BASE_URL, a local stub): follow_up asks it for the draft and
// qualification for BANT and the score; when it fails, the template and the rules step in.

const JOBS = { pollMs: 25, backoffBaseMs: 40, backoffMaxMs: 200, heartbeatMs: 200, leaseMs: 2000 };
let llm: LlmStub;
let server: TestServer;
let t: Tenant;
/** How many of the next task-model requests fail with a 500. */
let failures = 0;

const isFollowUp = (r: StubRequest) => r.body.messages[0]!.content.includes("follow-up email");
const isQualification = (r: StubRequest) => r.body.messages[0]!.content.includes("BANT");

beforeAll(async () => {
  llm = await startLlmStub();
  llm.respond((r) => {
    if ((isFollowUp(r) || isQualification(r)) && failures > 0) {
      failures--;
      return { status: 500, body: '{"error":{"message":"model overloaded"}}' };
    }
    if (isFollowUp(r)) return { content: JSON.stringify({ subject: "Your 20-seat plan", text: "Hi Ada,\n\nHere is what we discussed about seats.\n\nBest, Acme" }) };
    if (isQualification(r)) return { content: JSON.stringify({ budget: "$4k/month", authority: "VP Support", need: "chat automation", timeline: "Q3", score: 82 }) };
    return { content: "OK" };
  });
  server = await startServer({ jobs: JOBS }, { LLM_BASE_URL: llm.url, LLM_MODEL: "test-model" });
  t = await seed(server.app).workspace("Tasks LLM");
});
afterAll(async () => {
  await server?.stop();
  await llm?.stop();
});

const { gql } = http(() => server);
const db = () => server.app.runtime.db;

async function leadAndTask(type: string) {
  const k = (await t.developerKey(["leads:read", "leads:write", "tasks:read"])).secret;
  const conversation = await t.conversation([
    { author: "visitor", content: "We need 20 seats, our budget is $4,000 a month" },
    { author: "ai_assistant", content: "Our team plan fits that." },
  ]);
  const lead = await gql(k, `mutation ($input: CreateLeadInput!) { createLead(input: $input) { id } }`, {
    input: { name: "Ada Lovelace", email: `ada-${randomUUID()}@example.com`, conversationId: conversation.id },
  });
  const task = await gql(k, `mutation ($id: ID!, $type: String!) { scheduleActivity(leadId: $id, type: $type) { id } }`, { id: lead.data.createLead.id, type });
  expect(task.errors).toBeUndefined();
  const id = task.data.scheduleActivity.id as string;
  const done = await until("the task", async () => {
    const a = await db().activity.findUnique({ where: { id } });
    return a?.status === "completed" || a?.status === "failed" ? a : null;
  });
  return { leadId: lead.data.createLead.id as string, task: done };
}

describe("with an LLM", () => {
  it("follow_up: the model writes the draft from the conversation", async () => {
    const before = llm.requests.length;
    const { task } = await leadAndTask("follow_up");
    expect(task.status).toBe("completed");
    expect(task.result).toMatchObject({ drafter: "llm", subject: "Your 20-seat plan" });
    const draft = await db().outboundEmail.findUniqueOrThrow({ where: { id: (task.result as { emailId: string }).emailId } });
    expect(draft).toMatchObject({ status: "draft", draftedBy: "ai", subject: "Your 20-seat plan", text: "Hi Ada,\n\nHere is what we discussed about seats.\n\nBest, Acme" });
    const asked = llm.requests.slice(before).find(isFollowUp)!;
    expect(asked.body.messages[1]!.content).toContain("We need 20 seats");
    expect(asked.body.messages[1]!.content).toContain("Ada Lovelace");
  });

  it("qualification: the model's BANT and score go on the lead", async () => {
    const { leadId, task } = await leadAndTask("qualification");
    expect(task.result).toMatchObject({ method: "llm", score: 82, bant: { budget: "$4k/month", authority: "VP Support", need: "chat automation", timeline: "Q3" } });
    expect(await db().lead.findUniqueOrThrow({ where: { id: leadId } })).toMatchObject({ score: 82, budget: "$4k/month", authority: "VP Support", timeline: "Q3" });
  });

  it("a model that fails is asked again on the task's next try", async () => {
    failures = 1;
    const { task } = await leadAndTask("follow_up");
    expect(task).toMatchObject({ status: "completed", error: null, result: { drafter: "llm" } });
    const k = (await t.developerKey(["tasks:read"])).secret;
    const res = await http(() => server).callJson(`/api/v1/activities/${task.id}`, { token: k });
    expect(res.body.execution).toMatchObject({ attempts: 2, maxAttempts: 3, lastError: expect.stringContaining("model overloaded") });
  });

  it("a model that keeps failing: the last try uses the template or the rules, and the result says why", async () => {
    failures = 3;
    const followUp = await leadAndTask("follow_up");
    expect(followUp.task.status).toBe("completed");
    expect(followUp.task.result).toMatchObject({ drafter: "template", llmError: expect.stringContaining("model overloaded") });
    failures = 3;
    const qualified = await leadAndTask("qualification");
    expect(qualified.task.result).toMatchObject({ method: "rules", bant: { budget: "$4,000 a month" }, llmError: expect.stringContaining("500") });
    expect(failures).toBe(0);
  });
});
