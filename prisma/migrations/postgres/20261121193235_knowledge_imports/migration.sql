-- DropIndex
DROP INDEX "Article_scenarioId_url_idx";

-- CreateTable
CREATE TABLE "KnowledgeImport" (
    "id" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "handle" TEXT,
    "kind" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "params" JSONB NOT NULL,
    "jobId" TEXT,
    "total" INTEGER NOT NULL DEFAULT 0,
    "processed" INTEGER NOT NULL DEFAULT 0,
    "created" INTEGER NOT NULL DEFAULT 0,
    "updated" INTEGER NOT NULL DEFAULT 0,
    "unchanged" INTEGER NOT NULL DEFAULT 0,
    "failed" INTEGER NOT NULL DEFAULT 0,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "KnowledgeImport_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "KnowledgeImportItem" (
    "id" SERIAL NOT NULL,
    "importId" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "depth" INTEGER NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "articleId" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "KnowledgeImportItem_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "IntercomConnection" (
    "workspaceId" TEXT NOT NULL,
    "tokenCipher" TEXT NOT NULL,
    "tokenHint" TEXT NOT NULL,
    "appName" TEXT,
    "connectedBy" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "IntercomConnection_pkey" PRIMARY KEY ("workspaceId")
);

-- CreateIndex
CREATE INDEX "KnowledgeImport_scenarioId_createdAt_idx" ON "KnowledgeImport"("scenarioId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "KnowledgeImport_scenarioId_handle_key" ON "KnowledgeImport"("scenarioId", "handle");

-- CreateIndex
CREATE INDEX "KnowledgeImportItem_importId_status_idx" ON "KnowledgeImportItem"("importId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "KnowledgeImportItem_importId_target_key" ON "KnowledgeImportItem"("importId", "target");

-- CreateIndex
CREATE UNIQUE INDEX "Article_scenarioId_url_key" ON "Article"("scenarioId", "url");

-- AddForeignKey
ALTER TABLE "KnowledgeImport" ADD CONSTRAINT "KnowledgeImport_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "KnowledgeImportItem" ADD CONSTRAINT "KnowledgeImportItem_importId_fkey" FOREIGN KEY ("importId") REFERENCES "KnowledgeImport"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "IntercomConnection" ADD CONSTRAINT "IntercomConnection_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;
