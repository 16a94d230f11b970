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
