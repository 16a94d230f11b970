-- CreateTable
CREATE TABLE "MessageAttachment" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "eventId" TEXT NOT NULL,
    "fileId" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "MessageAttachment_eventId_fkey" FOREIGN KEY ("eventId") REFERENCES "ConversationEvent" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "MessageAttachment_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "StoredFile" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Scenario" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "workspaceId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "conversationCount" INTEGER NOT NULL DEFAULT 0,
    "metadataSchema" JSONB,
    CONSTRAINT "Scenario_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_Scenario" ("createdAt", "id", "name", "updatedAt", "workspaceId") SELECT "createdAt", "id", "name", "updatedAt", "workspaceId" FROM "Scenario";
DROP TABLE "Scenario";
ALTER TABLE "new_Scenario" RENAME TO "Scenario";
CREATE INDEX "Scenario_workspaceId_idx" ON "Scenario"("workspaceId");
CREATE TABLE "new_Conversation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "scenarioId" TEXT NOT NULL,
    "ord" INTEGER NOT NULL,
    "title" TEXT NOT NULL DEFAULT '',
    "source" TEXT NOT NULL DEFAULT 'api',
    "status" TEXT NOT NULL DEFAULT 'active',
    "terminated" BOOLEAN NOT NULL DEFAULT false,
    "resolutionStatus" TEXT NOT NULL DEFAULT 'open',
    "hasUnreadMessages" BOOLEAN NOT NULL DEFAULT false,
    "supportsInboxControl" BOOLEAN NOT NULL DEFAULT true,
    "lastMessageContent" TEXT,
    "lastMessageAt" DATETIME,
    "lastVisitorMessageAt" DATETIME,
    "mostFrequentLanguage" TEXT,
    "languageCounts" JSONB,
    "assigneeType" TEXT NOT NULL DEFAULT 'ai_assistant',
    "assigneeMemberId" TEXT,
    "visitorName" TEXT,
    "visitorEmail" TEXT,
    "visitorPhone" TEXT,
    "visitorLabel" TEXT,
    "visitorTokenHash" TEXT,
    "url" TEXT,
    "clientMetadata" JSONB,
    "unifiedAnalysis" JSONB,
    "eventCount" INTEGER NOT NULL DEFAULT 0,
    "rating" JSONB,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Conversation_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Conversation_assigneeMemberId_fkey" FOREIGN KEY ("assigneeMemberId") REFERENCES "TeamMember" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Conversation" ("createdAt", "id", "ord", "scenarioId", "source", "status", "terminated", "title", "updatedAt", "visitorEmail", "visitorName") SELECT "createdAt", "id", "ord", "scenarioId", "source", "status", "terminated", "title", "updatedAt", "visitorEmail", "visitorName" FROM "Conversation";
DROP TABLE "Conversation";
ALTER TABLE "new_Conversation" RENAME TO "Conversation";
CREATE INDEX "Conversation_scenarioId_createdAt_idx" ON "Conversation"("scenarioId", "createdAt");
CREATE INDEX "Conversation_scenarioId_lastMessageAt_idx" ON "Conversation"("scenarioId", "lastMessageAt");
CREATE INDEX "Conversation_assigneeMemberId_idx" ON "Conversation"("assigneeMemberId");
CREATE UNIQUE INDEX "Conversation_scenarioId_ord_key" ON "Conversation"("scenarioId", "ord");
CREATE UNIQUE INDEX "Conversation_scenarioId_visitorTokenHash_key" ON "Conversation"("scenarioId", "visitorTokenHash");
CREATE TABLE "new_ConversationEvent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "conversationId" TEXT NOT NULL,
    "ord" INTEGER NOT NULL,
    "type" TEXT NOT NULL DEFAULT 'message',
    "author" TEXT NOT NULL,
    "memberId" TEXT,
    "content" TEXT NOT NULL DEFAULT '',
    "handoffState" TEXT,
    "messageInsights" JSONB,
    "feedback" JSONB,
    "clientMetadata" JSONB,
    "messageContext" TEXT,
    "sourcesGenerated" JSONB,
    "isWelcome" BOOLEAN NOT NULL DEFAULT false,
    "language" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ConversationEvent_conversationId_fkey" FOREIGN KEY ("conversationId") REFERENCES "Conversation" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "ConversationEvent_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "TeamMember" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_ConversationEvent" ("author", "content", "conversationId", "createdAt", "id", "ord", "type") SELECT "author", "content", "conversationId", "createdAt", "id", "ord", "type" FROM "ConversationEvent";
DROP TABLE "ConversationEvent";
ALTER TABLE "new_ConversationEvent" RENAME TO "ConversationEvent";
CREATE UNIQUE INDEX "ConversationEvent_conversationId_ord_key" ON "ConversationEvent"("conversationId", "ord");
CREATE TABLE "new_StoredFile" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "scenarioId" TEXT NOT NULL,
    "purpose" TEXT NOT NULL DEFAULT 'widget_image',
    "contentType" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "data" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "StoredFile_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_StoredFile" ("contentType", "createdAt", "data", "id", "scenarioId", "sha256", "size") SELECT "contentType", "createdAt", "data", "id", "scenarioId", "sha256", "size" FROM "StoredFile";
DROP TABLE "StoredFile";
ALTER TABLE "new_StoredFile" RENAME TO "StoredFile";
CREATE INDEX "StoredFile_scenarioId_idx" ON "StoredFile"("scenarioId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "MessageAttachment_eventId_idx" ON "MessageAttachment"("eventId");

-- From prisma/sql/sqlite/conversations.sql
-- Full-text index of the trained answer index (what the default responder answers from), kept
-- current by triggers, with the same tokenizer as the article search.
CREATE VIRTUAL TABLE "AnswerSearch" USING fts5(
    "title", "content",
    content='AnswerIndexEntry', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER "AnswerIndexEntry_search_ai" AFTER INSERT ON "AnswerIndexEntry" BEGIN
    INSERT INTO "AnswerSearch"(rowid, "title", "content") VALUES (new."id", new."title", new."content");
END;
CREATE TRIGGER "AnswerIndexEntry_search_ad" AFTER DELETE ON "AnswerIndexEntry" BEGIN
    INSERT INTO "AnswerSearch"("AnswerSearch", rowid, "title", "content") VALUES ('delete', old."id", old."title", old."content");
END;
CREATE TRIGGER "AnswerIndexEntry_search_au" AFTER UPDATE OF "title", "content" ON "AnswerIndexEntry" BEGIN
    INSERT INTO "AnswerSearch"("AnswerSearch", rowid, "title", "content") VALUES ('delete', old."id", old."title", old."content");
    INSERT INTO "AnswerSearch"(rowid, "title", "content") VALUES (new."id", new."title", new."content");
END;
INSERT INTO "AnswerSearch"("AnswerSearch") VALUES ('rebuild');

-- Conversation ords handed out so far, for scenarios that already have conversations.
UPDATE "Scenario" SET "conversationCount" = (SELECT coalesce(max("ord"), 0) FROM "Conversation" WHERE "Conversation"."scenarioId" = "Scenario"."id");
UPDATE "Conversation" SET "eventCount" = (SELECT coalesce(max("ord"), 0) FROM "ConversationEvent" WHERE "ConversationEvent"."conversationId" = "Conversation"."id");
