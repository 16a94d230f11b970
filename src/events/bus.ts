import { createPubSub } from "graphql-yoga";
import type { Db } from "../db/client.ts";
import type { LiveConversationMessage, LiveInboxUpdate } from "./live.ts";

export interface DomainEventRecord {
  id: string;
  workspaceId: string;
  scenarioId: string | null;
  type: string;
  payload: unknown;
  createdAt: Date;
}

type Tx = Pick<Db, "domainEvent">;

/** Live topics: payloads are plain JSON-able objects, so a Redis fan-out can carry them as they are. */
export type LiveTopics = {
  [topic: `workspace:${string}`]: [DomainEventRecord];
  /** Everything that happens inside one conversation: messages, reply chunks, typing. */
  [topic: `conversation:${string}`]: [LiveConversationMessage];
  /** A scenario's inbox: conversations created or changed. */
  [topic: `inbox:${string}`]: [LiveInboxUpdate];
};

/**
 * Domain events: written to the DomainEvent table inside the caller's transaction (the outbox),
 * then published to live subscribers once that transaction has committed.
 */
export class EventBus {
  readonly pubsub = createPubSub<LiveTopics>();

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

  publishConversation(conversationId: string, message: LiveConversationMessage): void {
    this.pubsub.publish(`conversation:${conversationId}`, message);
  }

  subscribeConversation(conversationId: string): AsyncIterable<LiveConversationMessage> {
    return this.pubsub.subscribe(`conversation:${conversationId}`);
  }

  publishInbox(scenarioId: string, update: LiveInboxUpdate): void {
    this.pubsub.publish(`inbox:${scenarioId}`, update);
  }

  subscribeInbox(scenarioId: string): AsyncIterable<LiveInboxUpdate> {
    return this.pubsub.subscribe(`inbox:${scenarioId}`);
  }
}
