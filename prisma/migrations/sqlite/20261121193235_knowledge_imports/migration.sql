-- DropIndex
DROP INDEX "Article_scenarioId_url_idx";

-- CreateTable
CREATE TABLE "KnowledgeImport" (
    "id" TEXT NOT NULL PRIMARY KEY,
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
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "startedAt" DATETIME,
    "finishedAt" DATETIME,
    CONSTRAINT "KnowledgeImport_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "KnowledgeImportItem" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "importId" TEXT NOT NULL,
    "target" TEXT NOT NULL,
    "depth" INTEGER NOT NULL DEFAULT 0,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "error" TEXT,
    "articleId" INTEGER,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" DATETIME,
    CONSTRAINT "KnowledgeImportItem_importId_fkey" FOREIGN KEY ("importId") REFERENCES "KnowledgeImport" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "IntercomConnection" (
    "workspaceId" TEXT NOT NULL PRIMARY KEY,
    "tokenCipher" TEXT NOT NULL,
    "tokenHint" TEXT NOT NULL,
    "appName" TEXT,
    "connectedBy" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "IntercomConnection_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace" ("id") ON DELETE CASCADE ON UPDATE CASCADE
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
