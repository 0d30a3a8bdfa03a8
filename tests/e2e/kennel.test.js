// e2e: examples/kennel served by a real local `wrangler dev`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { prepareWorkspace, checkSql, typecheck, migrate, startWrangler, client, d1Execute, loadClient } from "./lib/harness.js";

let ws;
let server;
let api;

before(async () => {
  ws = prepareWorkspace();
});

after(async () => {
  if (server) await server.stop();
  if (ws && !process.env.E2E_KEEP) ws.cleanup();
});

test("SQL applies to a fresh sqlite3 DB and every view has the alias columns the runtime reads", () => {
  const { views, tables } = checkSql(ws);
  assert.deepEqual(views, ["Dog_withOwner", "Owner_withDogs"]);
  assert.deepEqual(tables, ["Owner", "Dog"]);
});

test("generated TS type-checks with tsc --strict", () => {
  typecheck(ws);
});

test("wrangler d1 migrations apply --local", async () => {
  const out = await migrate(ws);
  assert.match(out, /0001_init\.sql/);
});

test("wrangler dev starts", async () => {
  server = await startWrangler(ws);
  api = client(server.base);
});

test("register owners (static POST with a model parameter)", async (t) => {
  skipIfDown(t);
  let r = await api("POST", "/api/Owner/register", { owner: { name: "Ada", phone: null } });
  assert.deepEqual(r.json, { ok: true, status: 200, data: { id: 1, name: "Ada", phone: null, dogs: [] } });
  r = await api("POST", "/api/Owner/register", { owner: { name: "Brook", phone: "555-0101" } });
  assert.deepEqual(r.json.data, { id: 2, name: "Brook", phone: "555-0101", dogs: [] });
});

test("adopt dogs (instance POST returning HttpResult 201)", async (t) => {
  skipIfDown(t);
  for (const name of ["Rex", "Fido"]) {
    const r = await api("POST", "/api/Owner/1/adopt?dataSource=withDogs", { name });
    assert.equal(r.status, 201);
    assert.equal(r.json.data.name, name);
    assert.equal(r.json.data.ownerId, 1);
  }
  const r = await api("POST", "/api/Owner/2/adopt", { name: "Bolt" });
  assert.deepEqual(r.json, { ok: true, status: 201, data: { id: 3, name: "Bolt", ownerId: 2 } });
});

test("HttpResult 4xx passthrough: a fourth dog is refused with 409", async (t) => {
  skipIfDown(t);
  const r3 = await api("POST", "/api/Owner/1/adopt?dataSource=withDogs", { name: "Spot" });
  assert.equal(r3.status, 201);
  const r = await api("POST", "/api/Owner/1/adopt?dataSource=withDogs", { name: "Max" });
  assert.deepEqual(r.json, { ok: false, status: 409, message: "Ada already has 3 dogs" });
});

test("reads: a data-source view and plain hydration", async (t) => {
  skipIfDown(t);
  let r = await api("GET", "/api/Owner/all");
  assert.equal(r.json.data.length, 2);
  assert.deepEqual(r.json.data[0].dogs.map((d) => d.name), ["Rex", "Fido", "Spot"]);
  assert.deepEqual(r.json.data[1].dogs.map((d) => d.name), ["Bolt"]);
  r = await api("GET", "/api/Owner/1/pack?dataSource=withDogs");
  assert.deepEqual(r.json, { ok: true, status: 200, data: ["Rex", "Fido", "Spot"] });
  r = await api("GET", "/api/Owner/1/pack");
  assert.deepEqual(r.json, { ok: true, status: 200, data: [] }, "no data source: relations not loaded");
});

test("nested relation with a repeated alias (Dog -> Owner -> Dog_1) and env vars via @Inject", async (t) => {
  skipIfDown(t);
  let r = await api("GET", "/api/Dog/2/describe?dataSource=withOwner");
  assert.deepEqual(r.json, { ok: true, status: 200, data: "Fido (Waggy Tails) lives with Ada and Rex, Spot" });
  r = await api("GET", "/api/Dog/3/describe?dataSource=withOwner");
  assert.equal(r.json.data, "Bolt (Waggy Tails) lives with Brook");
  r = await api("GET", "/api/Dog/3/describe");
  assert.equal(r.json.data, "Bolt (Waggy Tails) lives with nobody");
});

test("validation 400s", async (t) => {
  skipIfDown(t);
  let r = await api("POST", "/api/Owner/register", { owner: { name: 7, phone: null } });
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Invalid parameters." });
  r = await api("POST", "/api/Owner/register", {});
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Missing parameters." });
  r = await api("POST", "/api/Owner/register", "{oops");
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Could not retrieve JSON body." });
  r = await api("GET", "/api/Dog/1/describe?dataSource=withFleas");
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Unknown data source withFleas" });
  r = await api("GET", "/api/Owner/pack");
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Id's are required for instantiated methods." });
});

test("routing 404s and 405", async (t) => {
  skipIfDown(t);
  let r = await api("GET", "/api/Cat/all");
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Path not found: Unknown model Cat /api/Cat/all" });
  r = await api("GET", "/api/Owner/bark");
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Path not found: Unknown method Owner.bark /api/Owner/bark" });
  r = await api("GET", "/Owner/all");
  assert.equal(r.status, 404);
  r = await api("POST", "/api/Owner/all", {});
  assert.equal(r.status, 405);
  assert.equal(r.headers.get("allow"), "GET");
});

test("404 Record not found for a missing row", async (t) => {
  skipIfDown(t);
  let r = await api("GET", "/api/Dog/99/describe?dataSource=withOwner");
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Record not found" });
  r = await api("GET", "/api/Owner/42/pack");
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Record not found" });
});

test("FK violation surfaces as a 500 and writes nothing", async (t) => {
  skipIfDown(t);
  const r = await api("POST", "/api/Dog/checkIn", { dog: { id: 50, name: "Stray", ownerId: 77 } });
  assert.equal(r.status, 500);
  assert.match(r.json.message, /^Uncaught exception in method dispatch: .*FOREIGN KEY constraint failed/);
  const rows = await d1Execute(ws, `SELECT COUNT(*) AS n FROM "Dog" WHERE "id" = 50`);
  assert.equal(rows[0].results[0].n, 0);
});

test("the generated client.ts talks to the runtime", async (t) => {
  skipIfDown(t);
  const { Owner, Dog } = await loadClient(ws, server.base);
  const all = await Owner.all();
  assert.equal(all.ok, true);
  assert.ok(all.data.every((o) => o instanceof Owner), "instantiateModelArray gives Owner instances");
  assert.deepEqual(all.data.map((o) => o.name), ["Ada", "Brook"]);
  const ada = all.data[0];
  const pack = await ada.pack("withDogs");
  assert.deepEqual(pack, { ok: true, status: 200, data: ["Rex", "Fido", "Spot"] });
  const full = await ada.adopt("Max", "withDogs");
  assert.deepEqual(full, { ok: false, status: 409, message: "Ada already has 3 dogs" });
  const brook = all.data[1];
  const adopted = await brook.adopt("Pip", null);
  assert.equal(adopted.status, 201);
  assert.ok(adopted.data instanceof Dog);
  assert.equal(adopted.data.ownerId, 2);
  const described = await adopted.data.describe("withOwner");
  assert.deepEqual(described, { ok: true, status: 200, data: "Pip (Waggy Tails) lives with Brook and Bolt" });
  const checked = await Dog.checkIn(Object.assign(new Dog(), { id: 60, name: "Lad", ownerId: 1 }));
  assert.equal(checked.ok, true);
  assert.ok(checked.data instanceof Dog);
  assert.equal(checked.data.id, 60);
});

function skipIfDown(t) {
  if (!api) assert.fail("wrangler dev is not running");
}
