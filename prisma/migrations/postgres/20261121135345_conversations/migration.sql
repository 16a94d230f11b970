-- AlterTable
ALTER TABLE "Scenario" ADD COLUMN     "conversationCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "metadataSchema" JSONB;

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "assigneeMemberId" TEXT,
ADD COLUMN     "assigneeType" TEXT NOT NULL DEFAULT 'ai_assistant',
ADD COLUMN     "clientMetadata" JSONB,
ADD COLUMN     "eventCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "hasUnreadMessages" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "languageCounts" JSONB,
ADD COLUMN     "lastMessageAt" TIMESTAMP(3),
ADD COLUMN     "lastMessageContent" TEXT,
ADD COLUMN     "lastVisitorMessageAt" TIMESTAMP(3),
ADD COLUMN     "mostFrequentLanguage" TEXT,
ADD COLUMN     "rating" JSONB,
ADD COLUMN     "resolutionStatus" TEXT NOT NULL DEFAULT 'open',
ADD COLUMN     "supportsInboxControl" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "unifiedAnalysis" JSONB,
ADD COLUMN     "url" TEXT,
ADD COLUMN     "visitorLabel" TEXT,
ADD COLUMN     "visitorPhone" TEXT,
ADD COLUMN     "visitorTokenHash" TEXT;

-- AlterTable
ALTER TABLE "ConversationEvent" ADD COLUMN     "clientMetadata" JSONB,
ADD COLUMN     "feedback" JSONB,
ADD COLUMN     "handoffState" TEXT,
ADD COLUMN     "isWelcome" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "language" TEXT,
ADD COLUMN     "memberId" TEXT,
ADD COLUMN     "messageContext" TEXT,
ADD COLUMN     "messageInsights" JSONB,
ADD COLUMN     "sourcesGenerated" JSONB;

-- AlterTable
ALTER TABLE "StoredFile" ADD COLUMN     "purpose" TEXT NOT NULL DEFAULT 'widget_image';

-- CreateTable
CREATE TABLE "MessageAttachment" (
    "id" SERIAL NOT NULL,
    "eventId" TEXT NOT NULL,
    "fileId" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "MessageAttachment_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "MessageAttachment_eventId_idx" ON "MessageAttachment"("eventId");

-- CreateIndex
CREATE INDEX "Conversation_scenarioId_lastMessageAt_idx" ON "Conversation"("scenarioId", "lastMessageAt");

-- CreateIndex
CREATE INDEX "Conversation_assigneeMemberId_idx" ON "Conversation"("assigneeMemberId");

-- CreateIndex
CREATE UNIQUE INDEX "Conversation_scenarioId_visitorTokenHash_key" ON "Conversation"("scenarioId", "visitorTokenHash");

-- AddForeignKey
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_assigneeMemberId_fkey" FOREIGN KEY ("assigneeMemberId") REFERENCES "TeamMember"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ConversationEvent" ADD CONSTRAINT "ConversationEvent_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "TeamMember"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MessageAttachment" ADD CONSTRAINT "MessageAttachment_eventId_fkey" FOREIGN KEY ("eventId") REFERENCES "ConversationEvent"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "MessageAttachment" ADD CONSTRAINT "MessageAttachment_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "StoredFile"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- From prisma/sql/postgres/conversations.sql
-- Full-text search of the trained answer index (what the default responder answers from).
ALTER TABLE "AnswerIndexEntry" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', "title" || ' ' || "content")
) STORED;
CREATE INDEX "AnswerIndexEntry_search_idx" ON "AnswerIndexEntry" USING GIN ("search");

-- Conversation ords handed out so far, for scenarios that already have conversations.
UPDATE "Scenario" SET "conversationCount" = (SELECT coalesce(max("ord"), 0) FROM "Conversation" WHERE "Conversation"."scenarioId" = "Scenario"."id");
UPDATE "Conversation" SET "eventCount" = (SELECT coalesce(max("ord"), 0) FROM "ConversationEvent" WHERE "ConversationEvent"."conversationId" = "Conversation"."id");
