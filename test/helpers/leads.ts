import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { TestServer } from "./server.ts";
import type { Tenant } from "./seed.ts";
import { http } from "./http.ts";

const CREATE = `mutation ($input: CreateLeadInput!) { createLead(input: $input) { id } }`;

/** What the lead tests share: leads created through GraphQL, and a before/after snapshot for "changes nothing". */
export function leadFixtures(server: () => TestServer) {
  const { gql } = http(server);
  const db = () => server().app.runtime.db;
  return {
    /** Leads come in through GraphQL's createLead, each batch with a key of its own (write budgets). */
    async createLeads(tenant: Tenant, inputs: Record<string, unknown>[]): Promise<string[]> {
      const key = (await tenant.developerKey(["leads:write"])).secret;
      const ids: string[] = [];
      for (const input of inputs) {
        const res = await gql(key, CREATE, { input });
        expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
        ids.push(res.data.createLead.id);
      }
      return ids;
    },
    uniqueEmail: (tag: string) => `${tag}-${randomUUID()}@example.com`,
    /** The lead row and the workspace's event and audit counts. */
    async snapshot(tenant: Tenant, id: string) {
      const [lead, events, audit] = await Promise.all([
        db().lead.findUnique({ where: { id } }),
        db().domainEvent.count({ where: { workspaceId: tenant.workspaceId } }),
        db().auditEntry.count({ where: { workspaceId: tenant.workspaceId } }),
      ]);
      return { lead, events, audit };
    },
  };
}
