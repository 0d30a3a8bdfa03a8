// A frontend developer's script against the generated client of
// examples/library, written the way a user writes one: plain object literals,
// `if (r.ok)` narrowing, nested method calls, the base URL chosen at run time.
// tests/e2e/library.test.js type-checks it with tsc --strict (it has no casts
// and no `!`), then runs main() against `wrangler dev`.
import { configureClient, CloesceClientError } from "cloesce";
import { Book, Branch, Loan, Shelf, createClient } from "../.generated/client.js";

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`user script: ${what}`);
}

/** `origin` is where the Worker runs, e.g. "http://127.0.0.1:8787". Returns what it saw. */
export async function main(origin: string): Promise<string[]> {
  const seen: string[] = [];

  // One client with its own base URL and fetch: relative, as a Worker's own
  // frontend would use it, with a fetch that resolves it and counts requests.
  let requests = 0;
  const api = createClient({
    baseUrl: "/api",
    fetch: (input, init) => {
      requests += 1;
      return fetch(new URL(input, origin), init);
    },
  });
  // And the global setting, for the plain imports.
  configureClient({ baseUrl: `${origin}/api` });

  // Plain object literals for model parameters.
  const opened = await api.Branch.open("Eastside");
  if (!opened.ok) throw new Error(opened.message);
  const east = opened.data;
  const poetry = await api.Shelf.add({ label: "Poetry", branchId: east.id });
  const essays = await api.Shelf.add({ label: "Essays", branchId: east.id });
  const mary = await api.Author.add("Mary");
  const percy = await api.Author.add("Percy");
  if (!poetry.ok || !essays.ok || !mary.ok || !percy.ok) throw new Error("setup failed");
  const odes = await api.Book.catalog(
    { isbn: "978-1-000", title: "Odes", year: 1820, available: true, shelfId: poetry.data.id },
    [mary.data.id, percy.data.id],
  );
  const sonnets = await api.Book.catalog(
    { isbn: "978-1-001", title: "Sonnets", year: 1818, available: false, shelfId: poetry.data.id },
    [percy.data.id],
  );
  if (!odes.ok) throw new Error(odes.message);
  if (!sonnets.ok) throw new Error(sonnets.message);
  check(odes.data.available === true && sonnets.data.available === false, "booleans arrive as booleans");
  seen.push(`catalogued ${odes.data.title} by ${odes.data.authors.map((a) => a.name).sort().join(" & ")}`);

  // An instance method on a returned instance (PATCH), then the one-to-one chain.
  const featured = await east.feature(essays.data.id);
  check(featured.ok && featured.data.featuredShelfId === essays.data.id, "feature");

  // one-to-many, two deep: branch.shelves[i].books[j] is a Book.
  const catalog = await Branch.ref(east.id).load("catalog");
  if (!catalog.ok) throw new Error(catalog.message);
  const shelf = catalog.data.shelves.find((s) => s.label === "Poetry");
  if (!shelf) throw new Error("no Poetry shelf");
  const sonnetsOnShelf = shelf.books.find((b) => b.isbn === "978-1-001");
  if (!sonnetsOnShelf) throw new Error("no Sonnets on the shelf");
  check(sonnetsOnShelf.available === false, "a nested boolean is a boolean");
  const summary = await sonnetsOnShelf.summary("full");
  if (summary.ok) seen.push(`one-to-many: ${summary.data}`);

  // many-to-many, two deep: book.authors[i].books[j] is a Book.
  const full = await Book.ref("978-1-000").load("full");
  if (!full.ok) throw new Error(full.message);
  const percyHere = full.data.authors.find((a) => a.name === "Percy");
  if (!percyHere) throw new Error("no Percy");
  const other = percyHere.books.find((b) => b.isbn !== "978-1-000");
  if (!other) throw new Error("Percy has one book only");
  const otherSummary = await other.summary("full");
  if (otherSummary.ok) seen.push(`many-to-many: ${otherSummary.data}`);
  const bibliography = await percyHere.bibliography("withBooks");
  if (bibliography.ok) seen.push(`bibliography: ${bibliography.data.join(", ")}`);

  // one-to-one, two deep: shelf.branch.featured is a Shelf.
  const placed = await api.Shelf.ref(poetry.data.id).load("withBranch");
  if (!placed.ok) throw new Error(placed.message);
  const featuredShelf = placed.data.branch?.featured;
  if (!featuredShelf) throw new Error("no featured shelf");
  const where = await featuredShelf.whereAmI("withBranch");
  if (where.ok) seen.push(`one-to-one: ${where.data}`);

  // Booleans and Dates both ways; HttpResult failures narrow to a message.
  const lent = await Loan.lend("978-1-000", "Ada");
  if (!lent.ok) throw new Error(lent.message);
  check(lent.data.returned === false, "a new loan is not returned");
  const again = await Loan.lend("978-1-000", "Bo");
  if (!again.ok) seen.push(`refused: ${again.status} ${again.message}`);
  const back = await lent.data.giveBack();
  check(back.ok, "give back");
  const due = await Loan.dueDate(new Date("2026-01-01T00:00:00.000Z"), 14);
  if (due.ok) seen.push(`due: ${due.data.toISOString()}`);

  // A key that was never set is the caller's mistake, caught before a request.
  try {
    await new Book().summary();
    seen.push("unset key: sent");
  } catch (e) {
    seen.push(`unset key: ${e instanceof CloesceClientError ? "CloesceClientError" : String(e)}`);
  }

  seen.push(`requests through the per-client fetch: ${requests}`);
  return seen;
}
