import { createPubSub } from "graphql-yoga";
import type { Db } from "../db/client.ts";

export interface DomainEventRecord {
  id: string;
  workspaceId: string;
  scenarioId: string | null;
  type: string;
  payload: unknown;
  createdAt: Date;
}

type Tx = Pick<Db, "domainEvent">;

/**
 * Domain events: written to the DomainEvent table inside the caller's transaction (the outbox),
 * then published to live subscribers once that transaction has committed.
 */
export class EventBus {
  readonly pubsub = createPubSub<{ [topic: `workspace:${string}`]: [DomainEventRecord] }>();

  async record(
    tx: Tx,
    event: { workspaceId: string; scenarioId?: string | null; type: string; payload: Record<string, unknown> },
  ): Promise<DomainEventRecord> {
    const row = await tx.domainEvent.create({
      data: {
        workspaceId: event.workspaceId,
        scenarioId: event.scenarioId ?? null,
        type: event.type,
        payload: event.payload as object,
      },
    });
    return row;
  }

  publish(events: DomainEventRecord[]): void {
    for (const e of events) this.pubsub.publish(`workspace:${e.workspaceId}`, e);
  }

  subscribe(workspaceId: string): AsyncIterable<DomainEventRecord> {
    return this.pubsub.subscribe(`workspace:${workspaceId}`);
  }
}
