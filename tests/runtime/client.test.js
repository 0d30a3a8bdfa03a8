// The generated client's side of the runtime (defineClient, createClient,
// configureClient): the requests it sends (the wire format of docs/runtime.md,
// unchanged), answers turned into instances at every depth with declared
// booleans and Dates, an unset primary key caught before any request, and the
// base URL / fetch set at run time. The classes below are what client.ts
// generates (rules/src/client.rs), minus the types.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

import { cloesce, defineClient, configureClient, CloesceClientError } from "../../npm-wrapper/package/runtime/index.js";
import { openFakeD1 } from "./fixtures/fake-d1.js";
import { constructorRegistry } from "./fixtures/stable-models.js";

const here = dirname(fileURLToPath(import.meta.url));

// ------------------------------------------------ a library, as generated

class Author {
  books = [];
  static ref(key) {
    const it = new this();
    it.id = key;
    return it;
  }
  static add(name, dataSource = null) {
    return lib.call(this, { model: "Author", method: "add", verb: "POST", instance: false, params: { name }, dataSource, returns: { model: "Author" } });
  }
  bibliography(dataSource = null) {
    return lib.call(this, { model: "Author", method: "bibliography", verb: "GET", instance: true, params: {}, dataSource });
  }
}
class Book {
  shelf = undefined;
  authors = [];
  static ref(key) {
    const it = new this();
    it.isbn = key;
    return it;
  }
  static catalog(book, authorIds, dataSource = null) {
    return lib.call(this, {
      model: "Book", method: "catalog", verb: "POST", instance: false, params: { book, authorIds }, models: { book: "Book" }, dataSource, returns: { model: "Book" },
    });
  }
  static search(term, before, dataSource = null) {
    return lib.call(this, { model: "Book", method: "search", verb: "GET", instance: false, params: { term, before }, dataSource, returns: { model: "Book" } });
  }
  summary(dataSource = null) {
    return lib.call(this, { model: "Book", method: "summary", verb: "GET", instance: true, params: {}, dataSource });
  }
  revise(title, year, dataSource = null) {
    return lib.call(this, { model: "Book", method: "revise", verb: "PUT", instance: true, params: { title, year }, dataSource, returns: { model: "Book" } });
  }
  static due(on, dataSource = null) {
    return lib.call(this, { model: "Book", method: "due", verb: "GET", instance: false, params: { on }, dataSource, returns: { as: "Date" } });
  }
  static inStock(dataSource = null) {
    return lib.call(this, { model: "Book", method: "inStock", verb: "GET", instance: false, params: {}, dataSource, returns: { as: "Boolean" } });
  }
}
class Branch {
  featured = undefined;
  shelves = [];
  static ref(key) {
    const it = new this();
    it.id = key;
    return it;
  }
  load(dataSource = null) {
    return lib.call(this, { model: "Branch", method: "load", verb: "GET", instance: true, params: {}, dataSource, returns: { model: "Branch" } });
  }
}
class Shelf {
  branch = undefined;
  books = [];
  whereAmI(dataSource = null) {
    return lib.call(this, { model: "Shelf", method: "whereAmI", verb: "GET", instance: true, params: {}, dataSource });
  }
}

const lib = defineClient(
  { Author, Book, Branch, Shelf },
  {
    Author: { key: "id", fields: {}, relations: { books: "Book" } },
    Book: { key: "isbn", fields: { available: "Boolean", added: "Date" }, relations: { shelf: "Shelf", authors: "Author" } },
    Branch: { key: "id", fields: {}, relations: { featured: "Shelf", shelves: "Shelf" } },
    Shelf: { key: "id", fields: {}, relations: { branch: "Branch", books: "Book" } },
  },
  "http://localhost:8787/api",
);

// ------------------------------------------------------------- fake fetch

const realFetch = globalThis.fetch;
let sent;

/** Replaces globalThis.fetch: records each request, answers with `answer(url, init)`. */
function answerWith(answer) {
  sent = [];
  globalThis.fetch = async (url, init) => {
    sent.push({ url: String(url), method: init.method, headers: init.headers, body: init.body });
    const body = answer(String(url), init);
    return new Response(typeof body === "string" ? body : JSON.stringify(body), { status: body.status ?? 200 });
  };
}

afterEach(() => {
  globalThis.fetch = realFetch;
  configureClient({});
});

// ---------------------------------------------------------------- requests

test("requests: URLs, query strings and bodies are the HTTP API's, byte for byte", async () => {
  answerWith(() => ({ ok: true, status: 200, data: null }));
  await Book.search("o & p", null, "full");
  await Book.search("x", 1990);
  await Book.ref("978 0/06?").summary();
  await Book.ref("978").revise("T", 1974);
  await Author.add("Ursula");
  await Book.catalog({ isbn: "1", title: "T", year: 1, available: true, shelfId: null }, [2, 3]);
  await Author.ref(3).bibliography("withBooks");
  assert.deepEqual(sent, [
    { url: "http://localhost:8787/api/Book/search?dataSource=full&term=o+%26+p&before=null", method: "GET", headers: undefined, body: undefined },
    { url: "http://localhost:8787/api/Book/search?term=x&before=1990", method: "GET", headers: undefined, body: undefined },
    { url: "http://localhost:8787/api/Book/978%200%2F06%3F/summary", method: "GET", headers: undefined, body: undefined },
    { url: "http://localhost:8787/api/Book/978/revise", method: "PUT", headers: { "Content-Type": "application/json" }, body: '{"title":"T","year":1974}' },
    { url: "http://localhost:8787/api/Author/add", method: "POST", headers: { "Content-Type": "application/json" }, body: '{"name":"Ursula"}' },
    {
      url: "http://localhost:8787/api/Book/catalog",
      method: "POST",
      headers: { "Content-Type": "application/json" },
      // A declared boolean of a model goes out as the 0/1 that D1 stores.
      body: '{"book":{"isbn":"1","title":"T","year":1,"available":1,"shelfId":null},"authorIds":[2,3]}',
    },
    { url: "http://localhost:8787/api/Author/3/bibliography?dataSource=withBooks", method: "GET", headers: undefined, body: undefined },
  ]);
});

test("requests: Dates go out as ISO text, nested models' booleans as 0/1, instances as their data", async () => {
  answerWith(() => ({ ok: true, status: 200, data: null }));
  await Book.due(new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
  const shelf = Object.assign(new Shelf(), { id: 1, label: "F", books: [{ isbn: "2", available: false, added: new Date(0) }] });
  await Book.catalog({ isbn: "1", title: "T", year: 1, available: false, shelfId: 1, shelf }, []);
  assert.equal(sent[0].url, "http://localhost:8787/api/Book/due?on=2026-01-02T03%3A04%3A05.000Z");
  assert.equal(
    sent[1].body,
    '{"book":{"isbn":"1","title":"T","year":1,"available":0,"shelfId":1,"shelf":{"books":[{"isbn":"2","available":0,"added":"1970-01-01T00:00:00.000Z"}],"id":1,"label":"F"}},"authorIds":[]}',
  );
});

test("requests: an unset primary key is a CloesceClientError and nothing is sent", async () => {
  answerWith(() => ({ ok: true, status: 200, data: null }));
  await assert.rejects(new Book().summary(), (e) => {
    assert.ok(e instanceof CloesceClientError);
    assert.match(e.message, /^Book\.summary\(\) needs the primary key Book\.isbn, which is undefined: .*Book\.ref\(isbn\)/);
    return true;
  });
  await assert.rejects(Branch.ref(null).load(), CloesceClientError);
  assert.deepEqual(sent, []);
  // 0 and "" are keys.
  await Branch.ref(0).load();
  await Book.ref("").summary();
  assert.deepEqual(sent.map((s) => s.url), ["http://localhost:8787/api/Branch/0/load", "http://localhost:8787/api/Book//summary"]);
});

// ------------------------------------------------------------------ answers

const CATALOG = {
  ok: true,
  status: 200,
  data: {
    id: 1,
    name: "Central",
    featuredShelfId: 2,
    featured: { id: 2, label: "Science", branchId: 1, books: [], branch: { id: 1, name: "Central", featuredShelfId: 2, shelves: [] } },
    shelves: [
      {
        id: 1,
        label: "Fiction",
        branchId: 1,
        books: [
          {
            isbn: "978-0-06-105",
            title: "Good Omens",
            year: 1990,
            available: 1,
            added: "2026-01-02T03:04:05.000Z",
            shelfId: 1,
            authors: [{ id: 2, name: "Terry", books: [{ isbn: "978-0-06-230", title: "Mort", year: 1987, available: 0, added: null, shelfId: 2, authors: [] }] }],
          },
        ],
      },
    ],
  },
};

test("answers: every object of the include tree is an instance of its model, at any depth", async () => {
  answerWith(() => CATALOG);
  const r = await Branch.ref(1).load("catalog");
  assert.equal(r.ok, true);
  const branch = r.data;
  assert.ok(branch instanceof Branch);
  assert.ok(branch.featured instanceof Shelf, "one-to-one");
  assert.ok(branch.featured.branch instanceof Branch, "one-to-one, two deep");
  assert.ok(branch.shelves[0] instanceof Shelf, "one-to-many");
  const omens = branch.shelves[0].books[0];
  assert.ok(omens instanceof Book, "one-to-many, two deep");
  assert.ok(omens.authors[0] instanceof Author, "many-to-many, three deep");
  const mort = omens.authors[0].books[0];
  assert.ok(mort instanceof Book, "many-to-many, four deep");
  assert.equal(omens.shelf, undefined, "a one-to-one not in the answer keeps its default");
  // Nested instances call their methods.
  answerWith(() => ({ ok: true, status: 200, data: "Mort (1987)" }));
  assert.deepEqual(await mort.summary("full"), { ok: true, status: 200, data: "Mort (1987)" });
  await branch.featured.whereAmI("withBranch");
  assert.deepEqual(sent.map((s) => s.url), [
    "http://localhost:8787/api/Book/978-0-06-230/summary?dataSource=full",
    "http://localhost:8787/api/Shelf/2/whereAmI?dataSource=withBranch",
  ]);
});

test("answers: declared booleans and Dates are converted at every depth; the rest is as received", async () => {
  answerWith(() => CATALOG);
  const branch = (await Branch.ref(1).load("catalog")).data;
  const omens = branch.shelves[0].books[0];
  const mort = omens.authors[0].books[0];
  assert.equal(omens.available, true);
  assert.equal(mort.available, false);
  assert.ok(omens.added instanceof Date);
  assert.equal(omens.added.toISOString(), "2026-01-02T03:04:05.000Z");
  assert.equal(mort.added, null, "null stays null");
  assert.equal(omens.year, 1990);
  assert.equal(branch.featuredShelfId, 2);
  // Returned scalars declared Date / boolean, and arrays of them.
  answerWith(() => ({ ok: true, status: 200, data: ["2026-01-02T00:00:00.000Z", null] }));
  const due = await Book.due(new Date(0));
  assert.ok(due.data[0] instanceof Date);
  assert.equal(due.data[1], null);
  answerWith(() => ({ ok: true, status: 200, data: 0 }));
  assert.deepEqual(await Book.inStock(), { ok: true, status: 200, data: false });
  answerWith(() => ({ ok: true, status: 200, data: true }));
  assert.deepEqual(await Book.inStock(), { ok: true, status: 200, data: true });
});

test("answers: failures are returned as received; an answer that is not JSON is an ok:false result", async () => {
  answerWith(() => ({ ok: false, status: 404, message: "Record not found" }));
  assert.deepEqual(await Book.ref("x").summary(), { ok: false, status: 404, message: "Record not found" });
  sent = [];
  globalThis.fetch = async () => new Response("<html>Bad gateway</html>", { status: 502 });
  const r = await Book.ref("x").summary();
  assert.equal(r.ok, false);
  assert.equal(r.status, 502);
  assert.match(r.message, /^GET http:\/\/localhost:8787\/api\/Book\/x\/summary: the answer is not JSON \(HTTP 502\): <html>Bad gateway/);
});

// -------------------------------------------------------- base URL and fetch

test("base URL: build-time default, then configureClient(), then createClient()'s own", async () => {
  answerWith(() => CATALOG);
  await Book.ref("a").summary();
  configureClient({ baseUrl: "https://api.example.com/v1/" });
  await Book.ref("b").summary();
  const seen = [];
  const local = lib.bind({ baseUrl: "/api", fetch: async (url, init) => (seen.push([url, init.method]), new Response(JSON.stringify(CATALOG))) });
  const branch = (await local.Branch.ref(1).load("catalog")).data;
  // Instances from a bound client are of its classes, so nested calls use it too.
  assert.ok(branch instanceof local.Branch && branch instanceof Branch);
  assert.ok(branch.shelves[0].books[0] instanceof local.Book);
  await branch.shelves[0].books[0].authors[0].bibliography();
  assert.equal(local.Book.name, "Book");
  // The global setting still applies to the unbound classes.
  await Author.ref(1).bibliography();
  assert.deepEqual(sent.map((s) => s.url), [
    "http://localhost:8787/api/Book/a/summary",
    "https://api.example.com/v1/Book/b/summary",
    "https://api.example.com/v1/Author/1/bibliography",
  ]);
  assert.deepEqual(seen, [
    ["/api/Branch/1/load?dataSource=catalog", "GET"],
    ["/api/Author/2/bibliography", "GET"],
  ]);
});

test("fetch: a global custom fetch sees every request (e.g. to add headers)", async () => {
  answerWith(() => ({ ok: true, status: 200, data: null }));
  const inner = globalThis.fetch;
  configureClient({ fetch: (url, init) => inner(url, { ...init, headers: { ...init.headers, Authorization: "Bearer t" } }) });
  await Author.add("Neil");
  await Book.search("x", null);
  assert.deepEqual(sent.map((s) => s.headers), [{ "Content-Type": "application/json", Authorization: "Bearer t" }, { Authorization: "Bearer t" }]);
  assert.throws(() => configureClient({ baseUrl: 8787 }), CloesceClientError);
  assert.throws(() => lib.bind({ fetch: "no" }), /fetch must be a function/);
});

// ------------------------------------------------- against the real handler

test("round trip: client → cloesce() → client, nested instances call the handler again", async () => {
  const cidl = JSON.parse(readFileSync(join(here, "fixtures/stable.cidl.json"), "utf8"));
  const db = openFakeD1(readFileSync(join(here, "fixtures/stable.sql"), "utf8"));
  db.sqlite.exec(`INSERT INTO "Horse" VALUES (0, 'Roach', NULL), (1, 'Shadowfax', NULL), (2, 'Epona', 'fast');
                  INSERT INTO "Like" VALUES (10, 0, 1), (11, 0, 2);`);
  class Horse {
    likes = [];
    self(dataSource = null) {
      return stable.call(this, { model: "Horse", method: "self", verb: "GET", instance: true, params: {}, dataSource, returns: { model: "Horse" } });
    }
  }
  class Like {
    horse1 = undefined;
    horse2 = undefined;
  }
  const stable = defineClient(
    { Horse, Like },
    { Horse: { key: "id", fields: {}, relations: { likes: "Like" } }, Like: { key: "id", fields: {}, relations: { horse1: "Horse", horse2: "Horse" } } },
    "http://localhost:8787/api",
  );
  const server = (url, init) =>
    cloesce(new Request(url, init), cidl, constructorRegistry, new Map([["Env", { db }]]), { envName: "Env", dbName: "db" }, "/api");
  const api = stable.bind({ fetch: server });
  const roach = (await Object.assign(new api.Horse(), { id: 0 }).self("default")).data;
  assert.ok(roach.likes[1].horse2 instanceof Horse);
  const epona = await roach.likes[1].horse2.self();
  assert.deepEqual({ ...epona.data }, { id: 2, name: "Epona", bio: "fast", likes: [] });
});
