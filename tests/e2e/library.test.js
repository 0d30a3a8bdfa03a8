// e2e: examples/library served by a real local `wrangler dev`. Covers
// one-to-one, one-to-many, many-to-many (nested, repeated junction), repeated
// model aliases, a text primary key, a nullable-FK cycle, every verb,
// HttpResult 4xx, [vars] via @Inject, GET coercion, 400/404/405/500.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { prepareWorkspace, checkSql, typecheck, migrate, startWrangler, client, d1Execute, loadClient, runUserScript } from "./lib/harness.js";

let ws;
let server;
let api;

const OMENS = "978-0-06-105";
const DISPOSSESSED = "978-0-553-38";
const MORT = "978-0-06-230";
const NEVERWHERE = "978-0-380-78";

before(() => {
  ws = prepareWorkspace();
});

after(async () => {
  if (server) await server.stop();
  if (ws && !process.env.E2E_KEEP) ws.cleanup();
});

function up() {
  if (!api) assert.fail("wrangler dev is not running");
}

test("SQL applies to a fresh sqlite3 DB and every view has the alias columns the runtime reads", () => {
  const { views, tables } = checkSql(ws);
  assert.deepEqual(views, [
    "Author_withBooks",
    "Book_full",
    "Book_withAuthors",
    "Branch_catalog",
    "Branch_withShelves",
    "Loan_withBook",
    "Shelf_withBranch",
  ]);
  assert.deepEqual([...tables].sort(), ["Author", "Book", "BookAuthors", "Branch", "Loan", "Shelf"]);
});

test("generated TS type-checks with tsc --strict", () => {
  typecheck(ws);
});

test("wrangler d1 migrations apply --local", async () => {
  assert.match(await migrate(ws), /0001_init\.sql/);
});

test("wrangler dev starts", async () => {
  server = await startWrangler(ws);
  api = client(server.base);
});

test("[vars] string through @Inject", async () => {
  up();
  const r = await api("GET", "/api/Branch/motto");
  assert.deepEqual(r.json, { ok: true, status: 200, data: "Quiet, please: books at work" });
});

test("POST: branches, shelves, authors", async () => {
  up();
  let r = await api("POST", "/api/Branch/open", { name: "Central" });
  assert.deepEqual(r.json.data, { id: 1, name: "Central", featuredShelfId: null, shelves: [] });
  r = await api("POST", "/api/Branch/open", { name: "Riverside" });
  assert.equal(r.json.data.id, 2);
  const shelves = [["Fiction", 1], ["Science", 1], ["Kids", 2]];
  for (const [i, [label, branchId]] of shelves.entries()) {
    r = await api("POST", "/api/Shelf/add", { shelf: { label, branchId } });
    assert.deepEqual(r.json.data, { id: i + 1, label, branchId, books: [] });
  }
  for (const [i, name] of ["Ursula", "Terry", "Neil"].entries()) {
    r = await api("POST", "/api/Author/add", { name });
    assert.deepEqual(r.json.data, { id: i + 1, name, books: [] });
  }
});

test("PATCH with HttpResult: 422 for a shelf of another branch, then the nullable FK of the cycle is set", async () => {
  up();
  let r = await api("PATCH", "/api/Branch/1/feature", { shelfId: 3 });
  assert.deepEqual(r.json, { ok: false, status: 422, message: "Shelf 3 is not in branch Central" });
  r = await api("PATCH", "/api/Branch/1/feature", { shelfId: 2 });
  assert.equal(r.status, 200);
  assert.equal(r.json.data.featuredShelfId, 2);
  r = await api("PATCH", "/api/Branch/1/feature", { shelfId: "two" });
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Invalid parameters." });
});

test("POST with a model and an array parameter: books with many-to-many authors (text PK)", async () => {
  up();
  const books = [
    [{ isbn: OMENS, title: "Good Omens", year: 1990, available: true, shelfId: 1 }, [2, 3]],
    [{ isbn: DISPOSSESSED, title: "The Dispossessed", year: 1974, available: true, shelfId: 1 }, [1]],
    [{ isbn: MORT, title: "Mort", year: 1987, available: false, shelfId: 2 }, [2]],
    [{ isbn: NEVERWHERE, title: "Neverwhere", year: 1996, available: true, shelfId: null }, [3]],
  ];
  for (const [book, authorIds] of books) {
    const r = await api("POST", "/api/Book/catalog", { book, authorIds });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.equal(r.json.data.isbn, book.isbn);
    assert.equal(r.json.data.available, book.available ? 1 : 0, "booleans come back as 0/1");
    assert.deepEqual(r.json.data.authors.map((a) => a.id).sort(), authorIds);
  }
  const dup = await api("POST", "/api/Book/catalog", { book: books[0][0], authorIds: [] });
  assert.deepEqual(dup.json, { ok: false, status: 409, message: `Book ${OMENS} is already catalogued` });
});

test("FK violation in a batch is a 500 and rolls back", async () => {
  up();
  const r = await api("POST", "/api/Book/catalog", {
    book: { isbn: "000-ghost", title: "Ghost", year: 2000, available: true, shelfId: null },
    authorIds: [99],
  });
  assert.equal(r.status, 500);
  assert.match(r.json.message, /^Uncaught exception in method dispatch: .*FOREIGN KEY constraint failed/);
  const rows = await d1Execute(ws, `SELECT COUNT(*) AS n FROM "Book" WHERE "isbn" = '000-ghost'`);
  assert.equal(rows[0].results[0].n, 0);
});

test("GET coercion: Nullable(Integer) from the query string", async () => {
  up();
  let r = await api("GET", "/api/Book/search?term=o&before=1990");
  assert.deepEqual(r.json.data.map((b) => b.title), ["Mort", "The Dispossessed"]);
  assert.deepEqual(r.json.data[0], { isbn: MORT, title: "Mort", year: 1987, available: 0, shelfId: 2, authors: [] });
  r = await api("GET", "/api/Book/search?term=o&before=null");
  assert.deepEqual(r.json.data.map((b) => b.title), ["Good Omens", "Mort", "The Dispossessed"]);
  r = await api("GET", "/api/Book/search?term=o&before=soon");
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Invalid parameters." });
  r = await api("GET", "/api/Book/search?term=o");
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Missing parameters." });
});

test("nested many-to-many with a repeated model (Book -> Author -> Book_1) and one-to-one chain", async () => {
  up();
  let r = await api("GET", `/api/Book/${OMENS}/summary?dataSource=full`);
  assert.deepEqual(r.json, { ok: true, status: 200, data: "Good Omens (1990) by Neil & Terry, Fiction @ Central; also by them: Mort, Neverwhere" });
  r = await api("GET", `/api/Book/${NEVERWHERE}/summary?dataSource=full`);
  assert.equal(r.json.data, "Neverwhere (1996) by Neil, not shelved; also by them: Good Omens");
  r = await api("GET", `/api/Book/${OMENS}/summary?dataSource=withAuthors`);
  assert.equal(r.json.data, "Good Omens (1990) by Neil & Terry, not shelved");
  r = await api("GET", `/api/Book/${OMENS}/summary`);
  assert.equal(r.json.data, "Good Omens (1990) by , not shelved");
  r = await api("GET", "/api/Author/2/bibliography?dataSource=withBooks");
  assert.deepEqual(r.json.data, ["Good Omens", "Mort"]);
});

test("deep include tree: Branch -> shelves (Shelf_1) -> books -> authors, featured (Shelf)", async () => {
  up();
  let r = await api("GET", "/api/Branch/1/overview?dataSource=catalog");
  assert.deepEqual(r.json.data, [
    "Fiction: Good Omens (Neil & Terry)",
    "Fiction: The Dispossessed (Ursula)",
    "Science: Mort (Terry)",
  ]);
  r = await api("GET", "/api/Branch/2/overview?dataSource=catalog");
  assert.deepEqual(r.json.data, []);
  r = await api("GET", "/api/Branch/1/overview?dataSource=withShelves");
  assert.deepEqual(r.json.data, [], "books not loaded by withShelves");
});

test("one-to-one through the nullable FK of the cycle (Shelf -> Branch -> featured Shelf_1)", async () => {
  up();
  let r = await api("GET", "/api/Shelf/1/whereAmI?dataSource=withBranch");
  assert.equal(r.json.data, "Fiction @ Central (featured is Science)");
  r = await api("GET", "/api/Shelf/2/whereAmI?dataSource=withBranch");
  assert.equal(r.json.data, "Science @ Central (featured)");
  r = await api("GET", "/api/Shelf/3/whereAmI?dataSource=withBranch");
  assert.equal(r.json.data, "Kids @ Riverside (no featured shelf)");
  r = await api("GET", "/api/Shelf/3/whereAmI");
  assert.equal(r.json.data, "Kids is nowhere");
});

test("PUT on a text primary key", async () => {
  up();
  let r = await api("PUT", `/api/Book/${DISPOSSESSED}/revise`, { title: "The Dispossessed: An Ambiguous Utopia", year: 1974 });
  assert.equal(r.json.data.title, "The Dispossessed: An Ambiguous Utopia");
  r = await api("GET", "/api/Book/search?term=Utopia&before=null");
  assert.deepEqual(r.json.data.map((b) => b.isbn), [DISPOSSESSED]);
  r = await api("PUT", `/api/Book/${DISPOSSESSED}/revise`, { title: "x", year: "1974" });
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Invalid parameters." });
  r = await api("PUT", "/api/Book/no-such-isbn/revise", { title: "x", year: 1 });
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Record not found" });
});

test("loans: HttpResult 201/404/409 and DELETE with HttpResult<void>", async () => {
  up();
  let r = await api("POST", "/api/Loan/lend", { isbn: MORT, patron: "Sam" });
  assert.deepEqual(r.json, { ok: true, status: 201, data: { id: 1, bookIsbn: MORT, patron: "Sam", returned: 0 } });
  r = await api("POST", "/api/Loan/lend", { isbn: MORT, patron: "Kim" });
  assert.deepEqual(r.json, { ok: false, status: 409, message: `Book ${MORT} is already lent` });
  r = await api("POST", "/api/Loan/lend", { isbn: "nope", patron: "Kim" });
  assert.deepEqual(r.json, { ok: false, status: 404, message: "No book nope" });
  r = await api("GET", "/api/Loan/1/label?dataSource=withBook");
  assert.equal(r.json.data, "Mort -> Sam");
  r = await api("DELETE", "/api/Loan/1/giveBack", {});
  assert.deepEqual(r.json, { ok: true, status: 200 });
  r = await api("DELETE", "/api/Loan/1/giveBack", {});
  assert.deepEqual(r.json, { ok: false, status: 409, message: "Loan 1 was already returned" });
  r = await api("GET", "/api/Loan/1/label");
  assert.equal(r.json.data, `${MORT} -> Sam (returned)`);
  r = await api("DELETE", "/api/Loan/42/giveBack", {});
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Record not found" });
});

test("DELETE: an empty shelf goes; a referenced one is an FK RESTRICT 500", async () => {
  up();
  let r = await api("DELETE", "/api/Shelf/3/remove", {});
  assert.deepEqual(r.json, { ok: true, status: 200 });
  r = await api("GET", "/api/Shelf/3/whereAmI");
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Record not found" });
  r = await api("DELETE", "/api/Shelf/2/remove", {});
  assert.equal(r.status, 500);
  assert.match(r.json.message, /FOREIGN KEY constraint failed/);
  r = await api("PATCH", "/api/Branch/1/feature", { shelfId: null });
  assert.equal(r.json.data.featuredShelfId, null);
  r = await api("GET", "/api/Shelf/2/whereAmI?dataSource=withBranch");
  assert.equal(r.json.data, "Science @ Central (no featured shelf)");
});

test("plain rows through modelsFromSql", async () => {
  up();
  const r = await api("GET", "/api/Branch/list");
  assert.deepEqual(r.json.data, [
    { id: 1, name: "Central", featuredShelfId: null, shelves: [] },
    { id: 2, name: "Riverside", featuredShelfId: null, shelves: [] },
  ]);
});

test("routing and validation errors", async () => {
  up();
  let r = await api("GET", "/api/Shelf/1/remove");
  assert.equal(r.status, 405);
  r = await api("GET", "/api/Shelf/1/teleport");
  assert.deepEqual(r.json, { ok: false, status: 404, message: "Path not found: Unknown method Shelf.teleport /api/Shelf/1/teleport" });
  r = await api("GET", "/api/Book/x/y/summary");
  assert.equal(r.status, 404);
  r = await api("GET", `/api/Book/${OMENS}/summary?dataSource=everything`);
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Unknown data source everything" });
  r = await api("POST", "/api/Author/add", "not json");
  assert.deepEqual(r.json, { ok: false, status: 400, message: "Invalid Request Body: Could not retrieve JSON body." });
});

test("the generated client.ts talks to the runtime (GET params, text PK, PUT/PATCH/DELETE)", async (t) => {
  up();
  if (!existsSync(join(ws.app, ".generated", "client.ts"))) return t.skip("no generated client.ts");
  const { Book, Branch, Loan, Author } = await loadClient(ws, server.base);
  assert.deepEqual(await Branch.motto(), { ok: true, status: 200, data: "Quiet, please: books at work" });
  const found = await Book.search("o", null);
  assert.equal(found.ok, true);
  assert.ok(found.data.every((b) => b instanceof Book));
  assert.deepEqual(found.data.map((b) => b.title), ["Good Omens", "Mort", "The Dispossessed: An Ambiguous Utopia"]);
  const omens = found.data[0];
  const summary = await omens.summary("full");
  assert.equal(summary.data, "Good Omens (1990) by Neil & Terry, Fiction @ Central; also by them: Mort, Neverwhere");
  const revised = await omens.revise("Good Omens!", 1990, null);
  assert.equal(revised.data.title, "Good Omens!");
  const central = Branch.ref(1);
  const featured = await central.feature(1, null);
  assert.equal(featured.status, 200);
  assert.equal(featured.data.featuredShelfId, 1);
  const refused = await central.feature(99, null);
  assert.deepEqual(refused, { ok: false, status: 422, message: "Shelf 99 is not in branch Central" });
  const lent = await Loan.lend(omens.isbn, "Ola");
  assert.equal(lent.status, 201);
  assert.ok(lent.data instanceof Loan);
  assert.deepEqual(await lent.data.giveBack(null), { ok: true, status: 200 });
  const neil = Author.ref(3);
  assert.deepEqual((await neil.bibliography("withBooks")).data, ["Good Omens!", "Neverwhere"]);
});

test("a user's script (tests/e2e/user/library.ts): tsc --strict without casts, then against wrangler dev", async (t) => {
  up();
  if (!existsSync(join(ws.app, ".generated", "client.ts"))) return t.skip("no generated client.ts");
  const seen = await runUserScript(ws, server.base, "library");
  assert.deepEqual(seen, [
    "catalogued Odes by Mary & Percy",
    "one-to-many: Sonnets (1818) by Percy, Poetry @ Eastside; also by them: Odes",
    "many-to-many: Sonnets (1818) by Percy, Poetry @ Eastside; also by them: Odes",
    "bibliography: Odes, Sonnets",
    "one-to-one: Essays @ Eastside (featured)",
    "refused: 409 Book 978-1-000 is already lent",
    "due: 2026-01-15T00:00:00.000Z",
    "unset key: CloesceClientError",
    // 7 to set up, feature() on the returned branch, Shelf.ref().load() and
    // whereAmI() on the shelf nested in its answer: a bound client hydrates
    // into its own classes.
    "requests through the per-client fetch: 10",
  ]);
});
