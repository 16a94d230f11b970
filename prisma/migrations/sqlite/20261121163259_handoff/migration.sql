-- AlterTable
ALTER TABLE "TeamMember" ADD COLUMN "avatarUrl" TEXT;
ALTER TABLE "TeamMember" ADD COLUMN "userId" INTEGER;

-- CreateTable
CREATE TABLE "HandoffConfiguration" (
    "scenarioId" TEXT NOT NULL PRIMARY KEY,
    "isActive" BOOLEAN NOT NULL DEFAULT false,
    "keywords" JSONB NOT NULL,
    "aiSummaryActive" BOOLEAN NOT NULL DEFAULT true,
    "questionMessage" TEXT NOT NULL,
    "confirmationMessage" TEXT NOT NULL,
    "confirmationOutsideWorkingHoursMessage" TEXT NOT NULL,
    "workingHoursActive" BOOLEAN NOT NULL DEFAULT false,
    "timezone" TEXT NOT NULL DEFAULT 'UTC',
    "sendEmailNotification" BOOLEAN NOT NULL DEFAULT false,
    "emails" JSONB NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "HandoffConfiguration_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "HandoffAvailabilitySlot" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "scenarioId" TEXT NOT NULL,
    "daySpan" TEXT NOT NULL,
    "startTime" TEXT NOT NULL,
    "endTime" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "HandoffAvailabilitySlot_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "HandoffGenericGuideline" (
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("scenarioId", "name"),
    CONSTRAINT "HandoffGenericGuideline_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "HandoffCustomGuideline" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "HandoffCustomGuideline_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "HandoffRoutingProfile" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "HandoffRoutingProfile_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "HandoffRoutingMember" (
    "profileId" INTEGER NOT NULL,
    "memberId" TEXT NOT NULL,

    PRIMARY KEY ("profileId", "memberId"),
    CONSTRAINT "HandoffRoutingMember_profileId_fkey" FOREIGN KEY ("profileId") REFERENCES "HandoffRoutingProfile" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "HandoffRoutingMember_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "TeamMember" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AuditEntry" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "workspaceId" TEXT NOT NULL,
    "scenarioId" TEXT,
    "conversationId" TEXT,
    "memberId" TEXT,
    "credentialId" TEXT,
    "action" TEXT NOT NULL,
    "details" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AuditEntry_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "OutboundEmail" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "workspaceId" TEXT NOT NULL,
    "scenarioId" TEXT,
    "to" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "html" TEXT,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "sentAt" DATETIME,
    "conversationId" TEXT,
    "leadId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "OutboundEmail_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Workspace" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "memberCount" INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "new_Workspace" ("createdAt", "id", "name", "updatedAt") SELECT "createdAt", "id", "name", "updatedAt" FROM "Workspace";
DROP TABLE "Workspace";
ALTER TABLE "new_Workspace" RENAME TO "Workspace";
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
    "handoffPhase" TEXT NOT NULL DEFAULT 'none',
    "handoffTrigger" TEXT,
    "handoffOfferedAt" DATETIME,
    "handedOffAt" DATETIME,
    "handoffRoutingProfileId" INTEGER,
    "handoffSummary" TEXT,
    "takeoverMemberId" TEXT,
    "takeoverCredentialId" TEXT,
    "takenOverAt" DATETIME,
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
    CONSTRAINT "Conversation_assigneeMemberId_fkey" FOREIGN KEY ("assigneeMemberId") REFERENCES "TeamMember" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Conversation_handoffRoutingProfileId_fkey" FOREIGN KEY ("handoffRoutingProfileId") REFERENCES "HandoffRoutingProfile" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Conversation_takeoverMemberId_fkey" FOREIGN KEY ("takeoverMemberId") REFERENCES "TeamMember" ("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "Conversation_takeoverCredentialId_fkey" FOREIGN KEY ("takeoverCredentialId") REFERENCES "Credential" ("id") ON DELETE SET NULL ON UPDATE CASCADE
);
INSERT INTO "new_Conversation" ("assigneeMemberId", "assigneeType", "clientMetadata", "createdAt", "eventCount", "hasUnreadMessages", "id", "languageCounts", "lastMessageAt", "lastMessageContent", "lastVisitorMessageAt", "mostFrequentLanguage", "ord", "rating", "resolutionStatus", "scenarioId", "source", "status", "supportsInboxControl", "terminated", "title", "unifiedAnalysis", "updatedAt", "url", "visitorEmail", "visitorLabel", "visitorName", "visitorPhone", "visitorTokenHash") SELECT "assigneeMemberId", "assigneeType", "clientMetadata", "createdAt", "eventCount", "hasUnreadMessages", "id", "languageCounts", "lastMessageAt", "lastMessageContent", "lastVisitorMessageAt", "mostFrequentLanguage", "ord", "rating", "resolutionStatus", "scenarioId", "source", "status", "supportsInboxControl", "terminated", "title", "unifiedAnalysis", "updatedAt", "url", "visitorEmail", "visitorLabel", "visitorName", "visitorPhone", "visitorTokenHash" FROM "Conversation";
DROP TABLE "Conversation";
ALTER TABLE "new_Conversation" RENAME TO "Conversation";
CREATE INDEX "Conversation_scenarioId_createdAt_idx" ON "Conversation"("scenarioId", "createdAt");
CREATE INDEX "Conversation_scenarioId_lastMessageAt_idx" ON "Conversation"("scenarioId", "lastMessageAt");
CREATE INDEX "Conversation_assigneeMemberId_idx" ON "Conversation"("assigneeMemberId");
CREATE INDEX "Conversation_takeoverMemberId_idx" ON "Conversation"("takeoverMemberId");
CREATE UNIQUE INDEX "Conversation_scenarioId_ord_key" ON "Conversation"("scenarioId", "ord");
CREATE UNIQUE INDEX "Conversation_scenarioId_visitorTokenHash_key" ON "Conversation"("scenarioId", "visitorTokenHash");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "HandoffAvailabilitySlot_scenarioId_idx" ON "HandoffAvailabilitySlot"("scenarioId");

-- CreateIndex
CREATE INDEX "HandoffCustomGuideline_scenarioId_idx" ON "HandoffCustomGuideline"("scenarioId");

-- CreateIndex
CREATE INDEX "HandoffRoutingProfile_scenarioId_idx" ON "HandoffRoutingProfile"("scenarioId");

-- CreateIndex
CREATE INDEX "HandoffRoutingMember_memberId_idx" ON "HandoffRoutingMember"("memberId");

-- CreateIndex
CREATE INDEX "AuditEntry_workspaceId_createdAt_idx" ON "AuditEntry"("workspaceId", "createdAt");

-- CreateIndex
CREATE INDEX "AuditEntry_conversationId_createdAt_idx" ON "AuditEntry"("conversationId", "createdAt");

-- CreateIndex
CREATE INDEX "OutboundEmail_workspaceId_createdAt_idx" ON "OutboundEmail"("workspaceId", "createdAt");

-- CreateIndex
CREATE INDEX "OutboundEmail_status_createdAt_idx" ON "OutboundEmail"("status", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "TeamMember_workspaceId_userId_key" ON "TeamMember"("workspaceId", "userId");

-- From prisma/sql/sqlite/handoff.sql
-- Integer user ids (the Quickchat dialect's operator ids) for members that existed before them:
-- numbered per workspace in creation order, and the counter set past the last one.
UPDATE "TeamMember" SET "userId" = (
    SELECT count(*) FROM "TeamMember" AS t2
    WHERE t2."workspaceId" = "TeamMember"."workspaceId"
      AND (t2."createdAt" < "TeamMember"."createdAt" OR (t2."createdAt" = "TeamMember"."createdAt" AND t2."id" <= "TeamMember"."id"))
);
UPDATE "Workspace" SET "memberCount" = (SELECT count(*) FROM "TeamMember" WHERE "TeamMember"."workspaceId" = "Workspace"."id");
