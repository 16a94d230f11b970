-- AlterTable
ALTER TABLE "Workspace" ADD COLUMN     "memberCount" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "TeamMember" ADD COLUMN     "avatarUrl" TEXT,
ADD COLUMN     "userId" INTEGER;

-- AlterTable
ALTER TABLE "Conversation" ADD COLUMN     "handedOffAt" TIMESTAMP(3),
ADD COLUMN     "handoffOfferedAt" TIMESTAMP(3),
ADD COLUMN     "handoffPhase" TEXT NOT NULL DEFAULT 'none',
ADD COLUMN     "handoffRoutingProfileId" INTEGER,
ADD COLUMN     "handoffSummary" TEXT,
ADD COLUMN     "handoffTrigger" TEXT,
ADD COLUMN     "takenOverAt" TIMESTAMP(3),
ADD COLUMN     "takeoverCredentialId" TEXT,
ADD COLUMN     "takeoverMemberId" TEXT;

-- CreateTable
CREATE TABLE "HandoffConfiguration" (
    "scenarioId" TEXT NOT NULL,
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
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "HandoffConfiguration_pkey" PRIMARY KEY ("scenarioId")
);

-- CreateTable
CREATE TABLE "HandoffAvailabilitySlot" (
    "id" SERIAL NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "daySpan" TEXT NOT NULL,
    "startTime" TEXT NOT NULL,
    "endTime" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "HandoffAvailabilitySlot_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "HandoffGenericGuideline" (
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "HandoffGenericGuideline_pkey" PRIMARY KEY ("scenarioId","name")
);

-- CreateTable
CREATE TABLE "HandoffCustomGuideline" (
    "id" SERIAL NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "HandoffCustomGuideline_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "HandoffRoutingProfile" (
    "id" SERIAL NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "HandoffRoutingProfile_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "HandoffRoutingMember" (
    "profileId" INTEGER NOT NULL,
    "memberId" TEXT NOT NULL,

    CONSTRAINT "HandoffRoutingMember_pkey" PRIMARY KEY ("profileId","memberId")
);

-- CreateTable
CREATE TABLE "AuditEntry" (
    "id" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "scenarioId" TEXT,
    "conversationId" TEXT,
    "memberId" TEXT,
    "credentialId" TEXT,
    "action" TEXT NOT NULL,
    "details" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AuditEntry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OutboundEmail" (
    "id" TEXT NOT NULL,
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
    "sentAt" TIMESTAMP(3),
    "conversationId" TEXT,
    "leadId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OutboundEmail_pkey" PRIMARY KEY ("id")
);

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

-- CreateIndex
CREATE INDEX "Conversation_takeoverMemberId_idx" ON "Conversation"("takeoverMemberId");

-- AddForeignKey
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_handoffRoutingProfileId_fkey" FOREIGN KEY ("handoffRoutingProfileId") REFERENCES "HandoffRoutingProfile"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_takeoverMemberId_fkey" FOREIGN KEY ("takeoverMemberId") REFERENCES "TeamMember"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Conversation" ADD CONSTRAINT "Conversation_takeoverCredentialId_fkey" FOREIGN KEY ("takeoverCredentialId") REFERENCES "Credential"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HandoffConfiguration" ADD CONSTRAINT "HandoffConfiguration_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HandoffAvailabilitySlot" ADD CONSTRAINT "HandoffAvailabilitySlot_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HandoffGenericGuideline" ADD CONSTRAINT "HandoffGenericGuideline_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HandoffCustomGuideline" ADD CONSTRAINT "HandoffCustomGuideline_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HandoffRoutingProfile" ADD CONSTRAINT "HandoffRoutingProfile_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HandoffRoutingMember" ADD CONSTRAINT "HandoffRoutingMember_profileId_fkey" FOREIGN KEY ("profileId") REFERENCES "HandoffRoutingProfile"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "HandoffRoutingMember" ADD CONSTRAINT "HandoffRoutingMember_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "TeamMember"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditEntry" ADD CONSTRAINT "AuditEntry_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OutboundEmail" ADD CONSTRAINT "OutboundEmail_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- From prisma/sql/postgres/handoff.sql
-- Integer user ids (the Quickchat dialect's operator ids) for members that existed before them:
-- numbered per workspace in creation order, and the counter set past the last one.
UPDATE "TeamMember" SET "userId" = (
    SELECT count(*) FROM "TeamMember" AS t2
    WHERE t2."workspaceId" = "TeamMember"."workspaceId"
      AND (t2."createdAt" < "TeamMember"."createdAt" OR (t2."createdAt" = "TeamMember"."createdAt" AND t2."id" <= "TeamMember"."id"))
);
UPDATE "Workspace" SET "memberCount" = (SELECT count(*) FROM "TeamMember" WHERE "TeamMember"."workspaceId" = "Workspace"."id");
