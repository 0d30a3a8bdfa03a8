// Unit tests of the cloesce runtime against a real SQLite (better-sqlite3)
// wrapped in a fake D1. Views are hand-written per MODEL-LANGUAGE §4.2.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import {
  cloesce,
  modelsFromSql,
  instantiateModelArray,
  aliasPlan,
  D1,
  PrimaryKey,
  ForeignKey,
  OneToMany,
  GET,
  Inject,
} from "../../npm-wrapper/package/runtime/index.js";
import { openFakeD1 } from "./fixtures/fake-d1.js";
import { constructorRegistry, Horse, Like, Student, Course } from "./fixtures/stable-models.js";

const here = dirname(fileURLToPath(import.meta.url));
const cidl = JSON.parse(readFileSync(join(here, "fixtures/stable.cidl.json"), "utf8"));
const schema = readFileSync(join(here, "fixtures/stable.sql"), "utf8");

let db;
let env;
let vars;

beforeEach(() => {
  db = openFakeD1(schema);
  env = { db };
  vars = { motd: "hay is for horses" };
});

async function call(method, path, body, opts = {}) {
  const init = { method };
  if (body !== undefined) init.body = typeof body === "string" ? body : JSON.stringify(body);
  const req = new Request(`http://localhost:8787${path}`, init);
  const registry = new Map([["Env", env], ["Vars", vars]]);
  const res = await cloesce(req, cidl, constructorRegistry, registry, { envName: "Env", dbName: "db" }, opts.apiRoute ?? "/api");
  assert.equal(res.headers.get("Content-Type"), "application/json");
  const json = await res.json();
  assert.equal(res.status, json.status, "HTTP status equals envelope status");
  return { res, json };
}

function seed() {
  db.sqlite.exec(`
    INSERT INTO "Horse" VALUES (0, 'Roach', 'Geralt''s horse'), (1, 'Shadowfax', NULL), (2, 'Epona', 'fast');
    INSERT INTO "Like" VALUES (10, 0, 1), (11, 0, 2), (12, 2, 0);
    INSERT INTO "Student" VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cid');
    INSERT INTO "Course" VALUES ('CS1', 'Programming'), ('MA1', 'Algebra'), ('PH1', 'Physics');
    INSERT INTO "StudentsCourses" VALUES ('CS1', 1), ('CS1', 2), ('MA1', 1), ('MA1', 3);
  `);
}

// ---------------------------------------------------------------- decorators
test("decorators are callable no-ops in experimentalDecorators shapes", () => {
  class M {}
  assert.equal(D1(M), undefined);
  assert.equal(PrimaryKey(M.prototype, "id"), undefined);
  assert.equal(ForeignKey(M)(M.prototype, "x"), undefined);
  assert.equal(OneToMany("x")(M.prototype, "y"), undefined);
  assert.equal(GET(M, "m", { value() {} }), undefined);
  assert.equal(Inject(M, "m", 0), undefined);
});

// ------------------------------------------------------------------- routing
test("router: too few / too many segments give 404 with the documented message", async () => {
  let { json } = await call("GET", "/api/Horse");
  assert.deepEqual(json, { ok: false, status: 404, message: "Path not found: Expected /model/method or /model/:id/method /api/Horse" });
  ({ json } = await call("GET", "/api/Horse/1/2/self"));
  assert.equal(json.status, 404);
  assert.match(json.message, /^Path not found: Expected \/model\/method/);
});

test("router: unknown model and unknown method", async () => {
  let { json } = await call("GET", "/api/Zebra/list");
  assert.deepEqual(json, { ok: false, status: 404, message: "Path not found: Unknown model Zebra /api/Zebra/list" });
  ({ json } = await call("GET", "/api/Horse/gallop"));
  assert.deepEqual(json, { ok: false, status: 404, message: "Path not found: Unknown method Horse.gallop /api/Horse/gallop" });
  // Object.prototype members are not models or methods.
  ({ json } = await call("GET", "/api/constructor/toString"));
  assert.equal(json.status, 404);
  ({ json } = await call("GET", "/api/Horse/toString"));
  assert.equal(json.status, 404);
});

test("router: the API route prefix is required", async () => {
  const { json } = await call("GET", "/other/Horse/list");
  assert.equal(json.status, 404);
  assert.equal(json.message, "Path not found: Expected the API route /api /other/Horse/list");
  const prefixOnly = await call("GET", "/apiHorse/list");
  assert.equal(prefixOnly.json.status, 404);
});

test("router: verb mismatch is 405 with an Allow header", async () => {
  const { res, json } = await call("POST", "/api/Horse/list", {});
  assert.deepEqual(json, { ok: false, status: 405, message: "Method not allowed: Unmatched HTTP method /api/Horse/list" });
  assert.equal(res.headers.get("Allow"), "GET");
});

test("router: static method reached with an id is 404; instance method without id is 400", async () => {
  let { json } = await call("GET", "/api/Horse/3/list");
  assert.equal(json.status, 404);
  ({ json } = await call("GET", "/api/Horse/self"));
  assert.deepEqual(json, { ok: false, status: 400, message: "Invalid Request Body: Id's are required for instantiated methods." });
});

// ---------------------------------------------------------------- validation
test("validation: bad JSON body, non-object body", async () => {
  let { json } = await call("POST", "/api/Horse/post", "{not json");
  assert.deepEqual(json, { ok: false, status: 400, message: "Invalid Request Body: Could not retrieve JSON body." });
  ({ json } = await call("POST", "/api/Horse/post", "[1,2]"));
  assert.equal(json.message, "Invalid Request Body: Could not retrieve JSON body.");
});

test("validation: missing parameters (nullable ones too), injected ones are not demanded", async () => {
  let { json } = await call("POST", "/api/Horse/echo", { name: "x" });
  assert.deepEqual(json, { ok: false, status: 400, message: "Invalid Request Body: Missing parameters." });
  ({ json } = await call("GET", "/api/Horse/search?name=a&minId=1&weight=2"));
  assert.equal(json.message, "Invalid Request Body: Missing parameters.");
  // Nullable(Inject Env) is injected, not demanded (O demanded it).
  ({ json } = await call("POST", "/api/Horse/echo", { name: "x", minId: null }));
  assert.equal(json.ok, true);
});

test("validation: per-type checks give 400 Invalid parameters.", async () => {
  const bad = "Invalid Request Body: Invalid parameters.";
  const cases = [
    ["POST", "/api/Horse/echo", { name: 3, minId: 1 }],
    ["POST", "/api/Horse/echo", { name: "a", minId: 1.5 }],
    ["POST", "/api/Horse/echo", { name: "a", minId: "x" }],
    ["POST", "/api/Horse/post", { horse: { id: 1, name: 7, bio: null } }],
    ["POST", "/api/Horse/post", { horse: "Roach" }],
    ["POST", "/api/Horse/post", { horse: { id: 1, name: "a", bio: null, likes: [{ id: 1, horseId1: "x", horseId2: 1 }] } }],
    ["GET", "/api/Horse/search?name=a&minId=abc&weight=1&tags=x"],
    ["GET", "/api/Horse/search?name=a&minId=1&weight=heavy&tags=x"],
    ["GET", "/api/Horse/search?name=a&minId=&weight=1&tags=x"],
    ["GET", "/api/Horse/divide?a=1.5&b=1"],
  ];
  for (const [verb, path, body] of cases) {
    const { json } = await call(verb, path, body);
    assert.deepEqual(json, { ok: false, status: 400, message: bad }, `${verb} ${path} ${JSON.stringify(body)}`);
  }
});

test("validation: unknown data source", async () => {
  seed();
  const { json } = await call("GET", "/api/Horse/0/self?dataSource=julio%20pumpkin");
  assert.deepEqual(json, { ok: false, status: 400, message: "Invalid Request Body: Unknown data source julio pumpkin" });
});

test("validation: empty body for a verb with a body counts as {}", async () => {
  const { json } = await call("DELETE", "/api/Horse/boom");
  assert.equal(json.status, 500); // reached dispatch
});

// ------------------------------------------------------------------ coercion
test("GET parameters are coerced to their declared types", async () => {
  let { json } = await call("GET", "/api/Horse/search?name=Roach&minId=3&weight=2.5&tags=a&tags=b");
  assert.deepEqual(json, { ok: true, status: 200, data: ["Roach", 3, 2.5, ["a", "b"]] });
  ({ json } = await call("GET", "/api/Horse/search?name=null&minId=null&weight=-1e2&tags=x"));
  // Text keeps "null"; Nullable(Integer) "null" becomes null.
  assert.deepEqual(json.data, ["null", null, -100, ["x"]]);
  ({ json } = await call("GET", "/api/Horse/search?name=&minId=true&weight=0&tags="));
  assert.deepEqual(json.data, ["", 1, 0, [""]]);
  ({ json } = await call("GET", "/api/Horse/divide?a=7&b=2"));
  assert.deepEqual(json, { ok: true, status: 200, data: 3.5 });
});

test("JSON body booleans are accepted for Integer (TS boolean)", async () => {
  const { json } = await call("PUT", "/api/Horse/flag", { on: true });
  assert.deepEqual(json, { ok: true, status: 200, data: true });
});

// ----------------------------------------------------------------- injection
test("injection: only Inject params get the env; null arguments stay null (defect #2)", async () => {
  const { json } = await call("POST", "/api/Horse/echo", { name: "x", minId: null });
  assert.deepEqual(json.data, { name: "x", minId: null, envIsEnv: true });
});

test("injection: keyed by type name", async () => {
  const { json } = await call("GET", "/api/Horse/motd");
  assert.deepEqual(json, { ok: true, status: 200, data: "hay is for horses" });
});

test("injection: a missing registry entry is a 500", async () => {
  const req = new Request("http://h/api/Horse/motd");
  const res = await cloesce(req, cidl, constructorRegistry, new Map([["Env", env]]), { envName: "Env", dbName: "db" }, "/api");
  const json = await res.json();
  assert.equal(json.status, 500);
  assert.match(json.message, /Vars/);
});

// ------------------------------------------------------------ dispatch/result
test("dispatch: static POST with a model parameter writes through the injected D1", async () => {
  const { json } = await call("POST", "/api/Horse/post", { horse: { id: 5, name: "Bucephalus", bio: null } });
  assert.deepEqual(json, { ok: true, status: 200, data: { id: 5, name: "Bucephalus", bio: null, likes: [] } });
  assert.deepEqual(db.sqlite.prepare(`SELECT * FROM "Horse"`).all(), [{ id: 5, name: "Bucephalus", bio: null }]);
});

test("validation: a model parameter cannot swap its prototype via __proto__", async () => {
  const body = '{"horse": {"id": 7, "name": "Trojan", "bio": null, "__proto__": {"evil": true}}}';
  const orig = Horse.post;
  let seen;
  Horse.post = (h, e) => {
    seen = h;
    return orig.call(Horse, h, e);
  };
  try {
    const { json } = await call("POST", "/api/Horse/post", body);
    assert.deepEqual(json, { ok: true, status: 200, data: { id: 7, name: "Trojan", bio: null, likes: [] } });
  } finally {
    Horse.post = orig;
  }
  assert.ok(seen instanceof Horse, "the model parameter is a Horse instance");
  assert.equal(seen.evil, undefined);
  const [h] = instantiateModelArray(JSON.parse('[{"id": 1, "__proto__": {"evil": true}}]'), Horse);
  assert.ok(h instanceof Horse);
  assert.equal(h.evil, undefined);
});

test("dispatch: Void return omits data", async () => {
  const { json } = await call("GET", "/api/Horse/nothing");
  assert.deepEqual(json, { ok: true, status: 200 });
});

test("dispatch: HttpResult passes through with its status", async () => {
  let { json } = await call("GET", "/api/Horse/divide?a=1&b=0");
  assert.deepEqual(json, { ok: false, status: 400, message: "divided by 0" });
  seed();
  ({ json } = await call("PATCH", "/api/Horse/1/rename", { name: "" }));
  assert.deepEqual(json, { ok: false, status: 422, message: "name must not be empty" });
  ({ json } = await call("PATCH", "/api/Horse/1/rename", { name: "Asfaloth" }));
  assert.equal(json.status, 201);
  assert.equal(json.data.name, "Asfaloth");
  assert.equal(db.sqlite.prepare(`SELECT name FROM "Horse" WHERE id = 1`).get().name, "Asfaloth");
});

test("dispatch: thrown errors and D1 constraint errors are 500", async () => {
  let { json } = await call("DELETE", "/api/Horse/boom", {});
  assert.deepEqual(json, { ok: false, status: 500, message: "Uncaught exception in method dispatch: kaboom" });
  seed();
  ({ json } = await call("POST", "/api/Horse/0/like", { horse: { id: 99, name: "ghost", bio: null } }));
  assert.equal(json.status, 500);
  assert.match(json.message, /^Uncaught exception in method dispatch: .*FOREIGN KEY/);
});

// ----------------------------------------------------------------- hydration
test("hydration: missing row is 404 Record not found (defect #3)", async () => {
  let { json } = await call("GET", "/api/Horse/42/self");
  assert.deepEqual(json, { ok: false, status: 404, message: "Record not found" });
  ({ json } = await call("GET", "/api/Horse/42/self?dataSource=default"));
  assert.deepEqual(json, { ok: false, status: 404, message: "Record not found" });
  ({ json } = await call("GET", "/api/Horse/abc/self"));
  assert.equal(json.status, 404);
});

test("hydration: without a data source relations stay empty; the id is bound as a number", async () => {
  seed();
  const { json } = await call("GET", "/api/Horse/0/self");
  assert.deepEqual(json.data, { id: 0, name: "Roach", bio: "Geralt's horse", likes: [] });
  const q = db.queries.at(-1);
  assert.equal(q.sql, `SELECT * FROM "Horse" WHERE "id" = ?`);
  assert.deepEqual(q.args, [0]);
});

test("hydration: repeated model alias Horse_1 holds the liked horse (defect #1)", async () => {
  seed();
  const { json } = await call("GET", "/api/Horse/0/self?dataSource=default");
  assert.equal(db.queries.at(-1).sql, `SELECT * FROM "Horse_default" WHERE "Horse_id" = ?`);
  const h = json.data;
  assert.equal(h.id, 0);
  assert.equal(h.likes.length, 2);
  const byId = Object.fromEntries(h.likes.map((l) => [l.id, l]));
  assert.equal(byId[10].horse2.id, 1);
  assert.equal(byId[10].horse2.name, "Shadowfax");
  assert.equal(byId[10].horse2.bio, null);
  assert.deepEqual(byId[10].horse2.likes, []);
  assert.equal(byId[11].horse2.id, 2);
  assert.equal(byId[11].horse2.name, "Epona");
  assert.equal(byId[11].horse1, undefined, "horse1 not in the include tree");
  // horse 1 liked nobody: the LEFT JOIN row with NULL Like columns gives [].
  const one = await call("GET", "/api/Horse/1/self?dataSource=default");
  assert.deepEqual(one.json.data, { id: 1, name: "Shadowfax", bio: null, likes: [] });
});

test("hydration: the instance is a real model instance and instance methods see it", async () => {
  seed();
  const { json } = await call("GET", "/api/Student/1/courseCount?dataSource=withCourses");
  assert.deepEqual(json, { ok: true, status: 200, data: 2 });
  const c = await call("GET", "/api/Course/CS1/describe?dataSource=withStudents");
  assert.deepEqual(c.json, { ok: true, status: 200, data: "CS1: Programming (2 students)" });
  const missing = await call("GET", "/api/Course/XX9/describe");
  assert.equal(missing.json.status, 404);
});

test("hydration: a text PK is URL-decoded and bound as text", async () => {
  seed();
  db.sqlite.exec(`INSERT INTO "Course" VALUES ('A B/1', 'Odd code')`);
  const { json } = await call("GET", "/api/Course/A%20B%2F1/describe");
  assert.deepEqual(json, { ok: true, status: 200, data: "A B/1: Odd code (0 students)" });
  assert.deepEqual(db.queries.at(-1).args, ["A B/1"]);
});

test("modelsFromSql: nested many-to-many through a repeated junction, real PK names", async () => {
  seed();
  const rows = db.sqlite.prepare(`SELECT * FROM "Student_withCourses" ORDER BY "Student_sid", "Course_code", "Student_1_sid"`).all();
  const students = modelsFromSql(Student, rows, cidl.models.Student.data_sources.withCourses.tree, { cidl, constructorRegistry });
  assert.equal(students.length, 3);
  assert.ok(students.every((s) => s instanceof Student));
  const [ann, bob, cid] = students;
  assert.deepEqual(ann.courses.map((c) => c.code), ["CS1", "MA1"]);
  assert.ok(ann.courses[0] instanceof Course);
  assert.deepEqual(ann.courses[0].students.map((s) => s.name), ["Ann", "Bob"]);
  assert.deepEqual(ann.courses[1].students.map((s) => s.sid), [1, 3]);
  assert.deepEqual(bob.courses.map((c) => c.title), ["Programming"]);
  assert.deepEqual(cid.courses[0].students.map((s) => s.name), ["Ann", "Cid"]);
  // Courses de-duplicated by PK even though rows repeat per co-student.
  assert.equal(rows.filter((r) => r.Student_sid === 1).length, 4);
});

test("modelsFromSql: children are aliased in sorted navigation-name order", async () => {
  seed();
  // Like.both is written {horse2, horse1}: horse1 (sorted first) is "Horse", horse2 is "Horse_1".
  const plan = aliasPlan(cidl, "Like", cidl.models.Like.data_sources.both.tree);
  assert.deepEqual(plan.children.map((c) => [c.nav.var_name, c.node.alias]), [["horse1", "Horse"], ["horse2", "Horse_1"]]);
  const rows = db.sqlite.prepare(`SELECT * FROM "Like_both" ORDER BY "Like_id"`).all();
  const likes = modelsFromSql(Like, rows, { horse2: {}, horse1: {} }, { cidl, constructorRegistry });
  assert.deepEqual(likes.map((l) => [l.horse1.name, l.horse2.name]), [["Roach", "Shadowfax"], ["Roach", "Epona"], ["Epona", "Roach"]]);
});

test("aliasPlan: third use of a model is <Model>_2, pre-order", () => {
  const tree = { likes: { horse1: { likes: {} }, horse2: {} } };
  const plan = aliasPlan(cidl, "Horse", tree);
  const aliases = [];
  (function walk(n) { aliases.push(n.alias); n.children.forEach((c) => walk(c.node)); })(plan);
  assert.deepEqual(aliases, ["Horse", "Like", "Horse_1", "Like_1", "Horse_2"]);
});

test("modelsFromSql: plain table rows and the IR registered by cloesce()", async () => {
  seed();
  const { json } = await call("GET", "/api/Horse/list");
  assert.deepEqual(json.data.map((h) => h.name), ["Roach", "Shadowfax", "Epona"]);
  assert.deepEqual(json.data[1], { id: 1, name: "Shadowfax", bio: null, likes: [] });
  const got = await call("GET", "/api/Horse/get?id=2");
  assert.deepEqual(got.json.data.likes.map((l) => l.horse2.name), ["Roach"]);
});

test("modelsFromSql: empty input and D1 result objects", () => {
  assert.deepEqual(modelsFromSql(Horse, [], null, { cidl }), []);
  const hs = modelsFromSql(Horse, { results: [{ id: 3, name: "x" }] }, null, { cidl });
  assert.deepEqual({ ...hs[0] }, { id: 3, name: "x", bio: null, likes: [] });
});

test("hydration: a broken view gives the documented 500", async () => {
  seed();
  db.sqlite.exec(`DROP VIEW "Horse_withLikes"`);
  const { json } = await call("GET", "/api/Horse/0/self?dataSource=withLikes");
  assert.equal(json.status, 500);
  assert.match(json.message, /^Error in hydration query, is the database out of sync with the backend\?: .*no such table/);
});

test("instantiateModelArray", () => {
  const xs = instantiateModelArray([{ id: 1, name: "a" }, { id: 2, name: "b" }], Horse);
  assert.ok(xs.every((x) => x instanceof Horse));
  assert.deepEqual(xs.map((x) => x.name), ["a", "b"]);
  assert.equal(instantiateModelArray(undefined, Horse), undefined);
});
