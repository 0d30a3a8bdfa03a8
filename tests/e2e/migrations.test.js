// e2e: the model edit -> `cloesce migrate` -> apply loop on a real local D1
// (wrangler 4.86), with rows written through the Worker before the edit.
//
//   E2E_TEST_FILE=tests/e2e/migrations.test.js E2E_CLOESCE_BIN=target/debug/cloesce \
//     scripts/test-e2e.sh examples/kennel
//
// The edit adds a column (Owner.email), adds a model (Tag), renames a column
// (Owner.phone -> mobile, given with --rename) and changes a nullability
// (Owner.name becomes nullable: a table rebuild while Dog rows point at
// Owner, which D1 only accepts with deferred foreign keys).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { prepareWorkspace, migrate, startWrangler, client, d1Execute } from "./lib/harness.js";

const BIN = process.env.E2E_CLOESCE_BIN;

let ws;
let server;
let api;

function cloesce(...args) {
  const r = spawnSync(BIN, args, { cwd: ws.app, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (r.status !== 0) throw new Error(`cloesce ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

before(() => {
  assert.ok(BIN, "E2E_CLOESCE_BIN names the cloesce binary");
  ws = prepareWorkspace();
});

after(async () => {
  if (server) await server.stop();
  if (ws && !process.env.E2E_KEEP) ws.cleanup();
});

test("build and apply the first migration", async () => {
  cloesce("run", "--quiet");
  const out = await migrate(ws);
  assert.match(out, /0001_init\.sql/);
});

test("rows written through the Worker", async () => {
  server = await startWrangler(ws);
  api = client(server.base);
  let r = await api("POST", "/api/Owner/register", { owner: { name: "Ada", phone: null } });
  assert.equal(r.json.data.id, 1);
  r = await api("POST", "/api/Owner/register", { owner: { name: "Brook", phone: "555-0101" } });
  assert.equal(r.json.data.id, 2);
  r = await api("POST", "/api/Owner/1/adopt?dataSource=withDogs", { name: "Rex" });
  assert.equal(r.status, 201);
  await server.stop();
  server = null;
});

test("edit the models: drift is reported, then `cloesce migrate` writes 0002", () => {
  const file = join(ws.app, "src", "kennel.cloesce.ts");
  let text = readFileSync(file, "utf8");
  text = text.replaceAll("phone", "mobile");
  text = text.replace("  name: string;\n  mobile: string | null;\n", "  name: string | null;\n  mobile: string | null;\n  email: string | null;\n");
  text += `
@D1
export class Tag {
  @PrimaryKey
  id: number;

  label: string;
}
`;
  writeFileSync(file, text);
  const run = cloesce("run");
  assert.match(run, /warning: the models differ from the last migration/);
  assert.match(run, /Owner\.email added/);
  assert.match(run, /model Tag added/);
  const r = spawnSync(BIN, ["migrate", "--check"], { cwd: ws.app, encoding: "utf8" });
  assert.equal(r.status, 1, "--check fails on drift");
  const out = cloesce("migrate", "evolve", "--rename", "Owner.phone=mobile");
  assert.match(out, /wrote migrations\/0002_evolve\.sql/);
  const sql = readFileSync(join(ws.app, "migrations", "0002_evolve.sql"), "utf8");
  assert.match(sql, /RENAME COLUMN "phone" TO "mobile"/);
  assert.match(sql, /PRAGMA defer_foreign_keys = on;/);
  assert.match(sql, /CREATE TABLE "Tag"/);
  cloesce("run", "--quiet");
  cloesce("migrate", "--check");
});

test("wrangler applies only the new migration", async () => {
  const out = await migrate(ws);
  assert.match(out, /0002_evolve\.sql/);
  assert.doesNotMatch(out, /0001_init\.sql/);
  const rows = await d1Execute(ws, `PRAGMA foreign_key_check;`);
  assert.deepEqual(rows[0].results, [], "no dangling foreign keys");
});

test("wrangler dev serves the new fields with the old rows intact", async () => {
  server = await startWrangler(ws);
  api = client(server.base);
  let r = await api("GET", "/api/Owner/all");
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.deepEqual(
    r.json.data.map((o) => ({ id: o.id, name: o.name, mobile: o.mobile, email: o.email, dogs: o.dogs.map((d) => d.name) })),
    [
      { id: 1, name: "Ada", mobile: null, email: null, dogs: ["Rex"] },
      { id: 2, name: "Brook", mobile: "555-0101", email: null, dogs: [] },
    ],
  );
  r = await api("POST", "/api/Owner/register", { owner: { name: null, mobile: "555-0199", email: "c@example.com" } });
  assert.equal(r.json.data.id, 3);
  assert.equal(r.json.data.name, null, "name is nullable now");
  const tags = await d1Execute(ws, `INSERT INTO "Tag" ("label") VALUES ('good'); SELECT count(*) AS n FROM "Tag";`);
  assert.equal(tags.at(-1).results[0].n, 1);
});
