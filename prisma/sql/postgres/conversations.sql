-- Full-text search of the trained answer index (what the default responder answers from).
ALTER TABLE "AnswerIndexEntry" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', "title" || ' ' || "content")
) STORED;
CREATE INDEX "AnswerIndexEntry_search_idx" ON "AnswerIndexEntry" USING GIN ("search");

-- Conversation ords handed out so far, for scenarios that already have conversations.
UPDATE "Scenario" SET "conversationCount" = (SELECT coalesce(max("ord"), 0) FROM "Conversation" WHERE "Conversation"."scenarioId" = "Scenario"."id");
UPDATE "Conversation" SET "eventCount" = (SELECT coalesce(max("ord"), 0) FROM "ConversationEvent" WHERE "ConversationEvent"."conversationId" = "Conversation"."id");
