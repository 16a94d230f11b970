import pino from "pino";
import { describe, expect, it } from "vitest";
import { LlmClient } from "../src/ai/llm-client.ts";
import type { LlmConfig } from "../src/config.ts";
import {
  findAuthority,
  findBudget,
  findNeed,
  findTimeline,
  POINTS,
  qualifyByRules,
  qualifyLead,
  type QualificationInput,
  type QualificationMessage,
} from "../src/services/qualification.ts";
import { startLlmStub } from "./helpers/llm-stub.ts";

// The rule-based lead qualification: each BANT element from what the visitor said, and the score.

const LLM = (baseUrl: string): LlmConfig => ({ baseUrl, model: "m", timeoutMs: 5000 });
const visitor = (...texts: string[]): QualificationMessage[] => texts.map((content) => ({ author: "visitor", content }));
const none = { budget: null, authority: null, need: null, timeline: null };
const input = (messages: QualificationMessage[], extra: Partial<QualificationInput> = {}): QualificationInput => ({
  messages,
  topics: [],
  known: none,
  contact: { email: false, phone: false },
  ...extra,
});

describe("budget", () => {
  it.each([
    ["Our budget is $5,000 per month.", "$5,000 per month"],
    ["We can spend up to €10k on this", "up to €10k"],
    ["I could pay around 2 500 EUR", "around 2 500 EUR"],
    ["We have 3000 dollars set aside", "3000 dollars"],
    ["Budget: £750", "£750"],
    ["we'd invest USD 20000 a year", "USD 20000 a year"],
  ])("%s → %s", (text, budget) => {
    expect(findBudget([text])).toBe(budget);
  });

  it.each([["How much is it? Is it $49?"], ["The price page says 49 €"], ["We have 5 employees"], ["Our budget is tight"]])("no budget in %s", (text) => {
    expect(findBudget([text])).toBeNull();
  });

  it("the latest statement wins", () => {
    expect(qualifyByRules(input(visitor("Our budget is $1,000", "Actually our budget is $2,000 now"))).bant.budget).toBe("$2,000");
  });
});

describe("authority", () => {
  it.each([
    ["I'm the CEO of a small agency", "CEO", true],
    ["I am the head of marketing here", "Head of Marketing", true],
    ["As the owner, I want a quote", "Owner", true],
    ["I'm a product manager at Acme", "Product Manager", true],
    ["Jane Doe, Director of Sales at Acme", "Director of Sales", true],
    ["We run a small business in Lyon", "Owner", true],
    ["It's my decision in the end", "Decision maker", true],
    ["I need to check with my boss first", "Needs approval from my boss", false],
  ])("%s → %s", (text, value, decides) => {
    expect(findAuthority([text])).toEqual({ value, decides });
  });

  it("nothing when no role is mentioned", () => {
    expect(findAuthority(["Hello, where is my parcel?"])).toBeNull();
  });
});

describe("need", () => {
  it.each([
    ["We need a CRM integration for our sales team.", "a CRM integration for our sales team"],
    ["I'm looking for a chatbot that speaks French", "a chatbot that speaks French"],
    ["Interested in the enterprise plan", "the enterprise plan"],
  ])("%s → %s", (text, need) => {
    expect(findNeed([text])).toBe(need);
  });

  it.each([["We need this ASAP"], ["I need you to call me"], ["What do you offer?"]])("no need in %s", (text) => {
    expect(findNeed([text])).toBeNull();
  });

  it("falls back to the conversation's topic, for fewer points", () => {
    const q = qualifyByRules(input(visitor("hello"), { topics: ["Pricing plans"] }));
    expect(q.bant.need).toBe("Pricing plans");
    expect(q.breakdown!.need).toBe(POINTS.topicNeed);
  });
});

describe("timeline", () => {
  it.each([
    ["We want to start next month", "next month", false],
    ["Go-live planned for Q3 2026", "for Q3 2026", false],
    ["We need this ASAP", "ASAP", true],
    ["within 2 weeks please", "within 2 weeks", false],
    ["by the end of the quarter", "by the end of the quarter", false],
    ["We must launch by March 15", "by March 15", false],
    ["this week if possible", "this week", true],
  ])("%s → %s", (text, value, urgent) => {
    expect(findTimeline([text])).toEqual({ value, urgent });
  });

  it("nothing when no time is mentioned", () => {
    expect(findTimeline(["Do you support Spanish?"])).toBeNull();
  });
});

describe("score", () => {
  it("a fully qualified, engaged lead scores 100", () => {
    const q = qualifyByRules(
      input(visitor("Hi, I'm the CEO of Acme.", "We need a chatbot for our support team.", "Our budget is $2,000 per month.", "We want to launch this week.", "Thanks!"), {
        contact: { email: true, phone: true },
      }),
    );
    expect(q.bant).toEqual({ budget: "$2,000 per month", authority: "CEO", need: "a chatbot for our support team", timeline: "this week" });
    expect(q.found).toEqual(["budget", "authority", "need", "timeline"]);
    expect(q.breakdown).toEqual({ budget: 25, authority: 20, need: 20, timeline: 20, engagement: 15 });
    expect(q.score).toBe(100);
  });

  it("small talk scores only engagement", () => {
    const q = qualifyByRules(input(visitor("hello", "thanks")));
    expect(q.bant).toEqual(none);
    expect(q.score).toBe(4);
  });

  it("what the conversations don't mention keeps the lead's value, and counts", () => {
    const known = { budget: "50k", authority: null, need: null, timeline: "2027" };
    const q = qualifyByRules(input(visitor("We need a new website."), { known }));
    expect(q.bant).toEqual({ budget: "50k", authority: null, need: "a new website", timeline: "2027" });
    expect(q.found).toEqual(["need"]);
    expect(q.score).toBe(25 + 20 + 15 + 2);
  });

  it("only the visitor's words count, not the assistant's", () => {
    const q = qualifyByRules(input([{ author: "ai_assistant", content: "Our plans start at $49 per month and we can set up by next week." }]));
    expect(q.bant).toEqual(none);
  });
});

describe("with an LLM", () => {
  it("takes the model's BANT and score; nulls keep the known values", async () => {
    const llm = await startLlmStub();
    try {
      llm.respond(() => ({ content: JSON.stringify({ budget: "$9k", authority: null, need: "A bot", timeline: "soon", score: 71.6 }) }));
      const client = new LlmClient(LLM(llm.url));
      const q = await qualifyLead(input(visitor("hi"), { known: { ...none, authority: "CTO" } }), client, pino({ level: "silent" }));
      expect(q).toMatchObject({ method: "llm", score: 72, bant: { budget: "$9k", authority: "CTO", need: "A bot", timeline: "soon" } });
      expect(llm.requests[0]!.body.response_format).toEqual({ type: "json_object" });
    } finally {
      await llm.stop();
    }
  });

  it("falls back to the rules when the model answers nonsense", async () => {
    const llm = await startLlmStub();
    try {
      llm.respond(() => ({ content: "I think this lead is great!" }));
      const client = new LlmClient(LLM(llm.url));
      const q = await qualifyLead(input(visitor("Our budget is $500")), client, pino({ level: "silent" }));
      expect(q.method).toBe("rules");
      expect(q.bant.budget).toBe("$500");
      expect(q.llmError).toBeTruthy();
    } finally {
      await llm.stop();
    }
  });
});
