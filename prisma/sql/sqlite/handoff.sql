-- Integer user ids (the Quickchat dialect's operator ids) for members that existed before them:
-- numbered per workspace in creation order, and the counter set past the last one.
UPDATE "TeamMember" SET "userId" = (
    SELECT count(*) FROM "TeamMember" AS t2
    WHERE t2."workspaceId" = "TeamMember"."workspaceId"
      AND (t2."createdAt" < "TeamMember"."createdAt" OR (t2."createdAt" = "TeamMember"."createdAt" AND t2."id" <= "TeamMember"."id"))
);
UPDATE "Workspace" SET "memberCount" = (SELECT count(*) FROM "TeamMember" WHERE "TeamMember"."workspaceId" = "Workspace"."id");
