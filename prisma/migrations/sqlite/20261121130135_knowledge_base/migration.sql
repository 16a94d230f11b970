-- CreateTable
CREATE TABLE "KnowledgeBaseState" (
    "scenarioId" TEXT NOT NULL PRIMARY KEY,
    "retrainState" TEXT,
    "failureReason" TEXT,
    "jobId" TEXT,
    "trainedArticles" INTEGER NOT NULL DEFAULT 0,
    "lastTrainedAt" DATETIME,
    "contentChangedAt" DATETIME,
    "changeCount" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "KnowledgeBaseState_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "kind" TEXT NOT NULL,
    "workspaceId" TEXT,
    "scenarioId" TEXT,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 5,
    "runAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lockedBy" TEXT,
    "lockedUntil" DATETIME,
    "lastError" TEXT,
    "result" JSONB,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "finishedAt" DATETIME
);

-- CreateTable
CREATE TABLE "Article" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "scenarioId" TEXT NOT NULL,
    "articleId" TEXT NOT NULL,
    "type" TEXT NOT NULL DEFAULT 'Article',
    "title" TEXT NOT NULL DEFAULT '',
    "description" TEXT NOT NULL DEFAULT '',
    "content" TEXT NOT NULL,
    "url" TEXT,
    "tags" JSONB NOT NULL,
    "tagsText" TEXT NOT NULL DEFAULT '',
    "deployState" TEXT NOT NULL DEFAULT 'draft',
    "state" TEXT NOT NULL DEFAULT 'draft',
    "version" INTEGER,
    "maxAvailableVersion" INTEGER,
    "externalSource" TEXT,
    "externalId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "downloadedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "externalUpdatedAt" DATETIME,
    CONSTRAINT "Article_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ArticleVersion" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "articleId" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "tags" JSONB NOT NULL,
    "publishedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "ArticleVersion_articleId_fkey" FOREIGN KEY ("articleId") REFERENCES "Article" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ArticleLangUrl" (
    "articleId" INTEGER NOT NULL,
    "language" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("articleId", "language"),
    CONSTRAINT "ArticleLangUrl_articleId_fkey" FOREIGN KEY ("articleId") REFERENCES "Article" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AnswerIndexEntry" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "scenarioId" TEXT NOT NULL,
    "articleId" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "url" TEXT,
    "tags" JSONB NOT NULL,
    "trainedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "AnswerIndexEntry_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "WidgetConfiguration" (
    "scenarioId" TEXT NOT NULL PRIMARY KEY,
    "welcomeMessage" TEXT NOT NULL DEFAULT '<p>Hello! How can I help?</p>',
    "welcomeMessage2" TEXT NOT NULL DEFAULT '',
    "header" TEXT NOT NULL DEFAULT 'Support',
    "subtitle" TEXT NOT NULL DEFAULT '',
    "popupActive" BOOLEAN NOT NULL DEFAULT true,
    "inputPlaceholder" TEXT NOT NULL DEFAULT 'Type your message...',
    "primaryColor" TEXT NOT NULL DEFAULT 'rgb(0, 122, 255)',
    "voiceActive" BOOLEAN NOT NULL DEFAULT false,
    "headerColor" TEXT NOT NULL DEFAULT 'rgb(0, 122, 255)',
    "headerCollapse" BOOLEAN NOT NULL DEFAULT false,
    "headerTextColor" BOOLEAN NOT NULL DEFAULT true,
    "typing" BOOLEAN NOT NULL DEFAULT true,
    "windowAutoOpen" BOOLEAN NOT NULL DEFAULT false,
    "whiteLabel" BOOLEAN NOT NULL DEFAULT false,
    "prechatActive" BOOLEAN NOT NULL DEFAULT false,
    "prechatHeaderText" TEXT,
    "prechatButtonText" TEXT,
    "prechatMessageText" TEXT,
    "backgroundDisclaimerText" TEXT,
    "streamingActive" BOOLEAN NOT NULL DEFAULT true,
    "linkTrackingActive" BOOLEAN NOT NULL DEFAULT false,
    "windowHeight" INTEGER NOT NULL DEFAULT 600,
    "windowWidth" INTEGER NOT NULL DEFAULT 400,
    "size" TEXT NOT NULL DEFAULT 'medium',
    "location" TEXT NOT NULL DEFAULT 'bottom-right',
    "avatarFileId" TEXT,
    "bubbleIconFileId" TEXT,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "WidgetConfiguration_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "RatingConfiguration" (
    "scenarioId" TEXT NOT NULL PRIMARY KEY,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "popupActive" BOOLEAN NOT NULL DEFAULT false,
    "questionCodes" JSONB NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "RatingConfiguration_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AiAction" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "type" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "icon" TEXT,
    "iconColor" TEXT,
    "config" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "AiAction_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "StoredFile" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "scenarioId" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "data" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "StoredFile_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "Job_status_runAt_idx" ON "Job"("status", "runAt");

-- CreateIndex
CREATE INDEX "Job_scenarioId_kind_idx" ON "Job"("scenarioId", "kind");

-- CreateIndex
CREATE INDEX "Article_scenarioId_type_idx" ON "Article"("scenarioId", "type");

-- CreateIndex
CREATE INDEX "Article_scenarioId_url_idx" ON "Article"("scenarioId", "url");

-- CreateIndex
CREATE INDEX "Article_scenarioId_externalSource_externalId_idx" ON "Article"("scenarioId", "externalSource", "externalId");

-- CreateIndex
CREATE UNIQUE INDEX "ArticleVersion_articleId_version_key" ON "ArticleVersion"("articleId", "version");

-- CreateIndex
CREATE INDEX "AnswerIndexEntry_scenarioId_idx" ON "AnswerIndexEntry"("scenarioId");

-- CreateIndex
CREATE INDEX "AiAction_scenarioId_idx" ON "AiAction"("scenarioId");

-- CreateIndex
CREATE INDEX "StoredFile_scenarioId_idx" ON "StoredFile"("scenarioId");

-- From prisma/sql/sqlite/knowledge_base.sql
-- Full-text index of articles (FTS5, external content = the Article table), kept current by triggers.
-- Accents are kept (remove_diacritics 0), as PostgreSQL's "simple" configuration keeps them: both
-- databases match the same words.
CREATE VIRTUAL TABLE "ArticleSearch" USING fts5(
    "title", "content", "url", "tagsText",
    content='Article', content_rowid='id', tokenize='unicode61 remove_diacritics 0'
);
CREATE TRIGGER "Article_search_ai" AFTER INSERT ON "Article" BEGIN
    INSERT INTO "ArticleSearch"(rowid, "title", "content", "url", "tagsText")
    VALUES (new."id", new."title", new."content", new."url", new."tagsText");
END;
CREATE TRIGGER "Article_search_ad" AFTER DELETE ON "Article" BEGIN
    INSERT INTO "ArticleSearch"("ArticleSearch", rowid, "title", "content", "url", "tagsText")
    VALUES ('delete', old."id", old."title", old."content", old."url", old."tagsText");
END;
CREATE TRIGGER "Article_search_au" AFTER UPDATE OF "title", "content", "url", "tagsText" ON "Article" BEGIN
    INSERT INTO "ArticleSearch"("ArticleSearch", rowid, "title", "content", "url", "tagsText")
    VALUES ('delete', old."id", old."title", old."content", old."url", old."tagsText");
    INSERT INTO "ArticleSearch"(rowid, "title", "content", "url", "tagsText")
    VALUES (new."id", new."title", new."content", new."url", new."tagsText");
END;

-- Every scenario has a knowledge-base state row (new ones get it when created): existing ones here.
INSERT INTO "KnowledgeBaseState" ("scenarioId", "trainedArticles", "changeCount", "updatedAt")
SELECT "id", 0, 0, CURRENT_TIMESTAMP FROM "Scenario";
