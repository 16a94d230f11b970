-- CreateEnum
CREATE TYPE "ArticleType" AS ENUM ('Article', 'Paragraph', 'URL');

-- CreateTable
CREATE TABLE "KnowledgeBaseState" (
    "scenarioId" TEXT NOT NULL,
    "retrainState" TEXT,
    "failureReason" TEXT,
    "jobId" TEXT,
    "trainedArticles" INTEGER NOT NULL DEFAULT 0,
    "lastTrainedAt" TIMESTAMP(3),
    "contentChangedAt" TIMESTAMP(3),
    "changeCount" INTEGER NOT NULL DEFAULT 0,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "KnowledgeBaseState_pkey" PRIMARY KEY ("scenarioId")
);

-- CreateTable
CREATE TABLE "Job" (
    "id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "workspaceId" TEXT,
    "scenarioId" TEXT,
    "payload" JSONB NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'queued',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 5,
    "runAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lockedBy" TEXT,
    "lockedUntil" TIMESTAMP(3),
    "lastError" TEXT,
    "result" JSONB,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "Job_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Article" (
    "id" SERIAL NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "articleId" TEXT NOT NULL,
    "type" "ArticleType" NOT NULL DEFAULT 'Article',
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
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "downloadedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "externalUpdatedAt" TIMESTAMP(3),

    CONSTRAINT "Article_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ArticleVersion" (
    "id" SERIAL NOT NULL,
    "articleId" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "tags" JSONB NOT NULL,
    "publishedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ArticleVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ArticleLangUrl" (
    "articleId" INTEGER NOT NULL,
    "language" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ArticleLangUrl_pkey" PRIMARY KEY ("articleId","language")
);

-- CreateTable
CREATE TABLE "AnswerIndexEntry" (
    "id" SERIAL NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "articleId" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "title" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "url" TEXT,
    "tags" JSONB NOT NULL,
    "trainedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AnswerIndexEntry_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WidgetConfiguration" (
    "scenarioId" TEXT NOT NULL,
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
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "WidgetConfiguration_pkey" PRIMARY KEY ("scenarioId")
);

-- CreateTable
CREATE TABLE "RatingConfiguration" (
    "scenarioId" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "popupActive" BOOLEAN NOT NULL DEFAULT false,
    "questionCodes" JSONB NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RatingConfiguration_pkey" PRIMARY KEY ("scenarioId")
);

-- CreateTable
CREATE TABLE "AiAction" (
    "id" SERIAL NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "type" TEXT NOT NULL,
    "isActive" BOOLEAN NOT NULL DEFAULT true,
    "icon" TEXT,
    "iconColor" TEXT,
    "config" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AiAction_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "StoredFile" (
    "id" TEXT NOT NULL,
    "scenarioId" TEXT NOT NULL,
    "contentType" TEXT NOT NULL,
    "size" INTEGER NOT NULL,
    "sha256" TEXT NOT NULL,
    "data" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "StoredFile_pkey" PRIMARY KEY ("id")
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

-- AddForeignKey
ALTER TABLE "KnowledgeBaseState" ADD CONSTRAINT "KnowledgeBaseState_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Article" ADD CONSTRAINT "Article_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ArticleVersion" ADD CONSTRAINT "ArticleVersion_articleId_fkey" FOREIGN KEY ("articleId") REFERENCES "Article"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ArticleLangUrl" ADD CONSTRAINT "ArticleLangUrl_articleId_fkey" FOREIGN KEY ("articleId") REFERENCES "Article"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AnswerIndexEntry" ADD CONSTRAINT "AnswerIndexEntry_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WidgetConfiguration" ADD CONSTRAINT "WidgetConfiguration_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RatingConfiguration" ADD CONSTRAINT "RatingConfiguration_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AiAction" ADD CONSTRAINT "AiAction_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "StoredFile" ADD CONSTRAINT "StoredFile_scenarioId_fkey" FOREIGN KEY ("scenarioId") REFERENCES "Scenario"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- From prisma/sql/postgres/knowledge_base.sql
-- Full-text search of articles: stored tsvector columns (all searchable text; content alone, for
-- with_title_url_and_tags=false), computed by PostgreSQL on every write, with GIN indexes. Stored
-- vectors let ranking (ts_rank) read them instead of re-parsing every matching row.
ALTER TABLE "Article" ADD COLUMN "searchAll" tsvector GENERATED ALWAYS AS (
    to_tsvector('simple', coalesce("title", '') || ' ' || "content" || ' ' || coalesce("url", '') || ' ' || "tagsText")
) STORED;
ALTER TABLE "Article" ADD COLUMN "searchContent" tsvector GENERATED ALWAYS AS (to_tsvector('simple', "content")) STORED;
CREATE INDEX "Article_searchAll_idx" ON "Article" USING GIN ("searchAll");
CREATE INDEX "Article_searchContent_idx" ON "Article" USING GIN ("searchContent");

-- Every scenario has a knowledge-base state row (new ones get it when created): existing ones here.
INSERT INTO "KnowledgeBaseState" ("scenarioId", "trainedArticles", "changeCount", "updatedAt")
SELECT "id", 0, 0, CURRENT_TIMESTAMP FROM "Scenario";
