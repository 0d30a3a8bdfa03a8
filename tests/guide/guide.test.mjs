// docs/guide.md, followed literally from an empty folder (issue #16), then
// docs/migrations.md, followed literally in the project the guide built (its
// walk-through starts there), with the guide's `wrangler dev` still serving.
// How a doc is followed: follow.mjs.
import { test, after } from "node:test";
import assert from "node:assert/strict";

import { Session } from "./follow.mjs";

let session = null;
after(async () => {
  if (session) await session.close();
});

test("docs/guide.md works word for word from an empty folder", { timeout: 1_200_000 }, async (t) => {
  session = new Session();
  await session.follow(t, "docs/guide.md");
  assert.ok(session.server, "the guide starts `wrangler dev`");
  assert.ok(session.ranCurls >= 2, "the guide's curl lines ran");
});

test("docs/migrations.md works word for word in the guide's project", { timeout: 900_000 }, async (t) => {
  assert.ok(session?.server, "the guide's project, with `wrangler dev` serving it");
  const curls = session.ranCurls;
  await session.follow(t, "docs/migrations.md");
  assert.ok(session.ranCurls > curls, "the rows kept are read back through the Worker");
});
