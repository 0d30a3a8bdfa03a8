// Branches and their shelves. Branch.featuredShelfId (nullable) and
// Shelf.branchId (required) form an FK cycle that the nullable side breaks.
import {
  D1,
  PrimaryKey,
  ForeignKey,
  OneToOne,
  OneToMany,
  DataSource,
  GET,
  POST,
  PATCH,
  DELETE,
  Inject,
  IncludeTree,
  HttpResult,
  modelsFromSql,
} from "cloesce";
import { Env } from "./env.cloesce";
import type { Book } from "./book.cloesce";

@D1
export class Branch {
  @PrimaryKey
  id: number;

  name: string;

  @ForeignKey("Shelf")
  featuredShelfId: number | null;

  @OneToOne("featuredShelfId")
  featured: Shelf | undefined;

  @OneToMany("branchId")
  shelves: Shelf[];

  @DataSource
  static readonly catalog: IncludeTree<Branch> = { shelves: { books: { authors: {} } }, featured: {} };

  @DataSource
  static readonly withShelves: IncludeTree<Branch> = { shelves: {} };

  @POST
  static async open(name: string, @Inject env: Env): Promise<Branch> {
    const row = await env.db.prepare(`INSERT INTO "Branch" ("name", "featuredShelfId") VALUES (?, NULL) RETURNING *`).bind(name).first();
    return modelsFromSql(Branch, [row as Record<string, unknown>], null)[0];
  }

  @GET
  static async list(@Inject env: Env): Promise<Branch[]> {
    const rows = await env.db.prepare(`SELECT * FROM "Branch" ORDER BY "id"`).all();
    return modelsFromSql(Branch, rows.results, null);
  }

  @GET
  static motto(@Inject env: Env): string {
    return env.LIBRARY_MOTTO;
  }

  /** This branch with the relations of the data source (?dataSource=catalog loads shelves, books, authors). */
  @GET
  load(): Branch {
    return this;
  }

  /** Every book on every shelf, as "shelf: title (authors)"; needs ?dataSource=catalog. */
  @GET
  overview(): string[] {
    const lines: string[] = [];
    for (const shelf of this.shelves) {
      for (const book of shelf.books) {
        const authors = book.authors.map((a) => a.name).sort().join(" & ");
        lines.push(`${shelf.label}: ${book.title} (${authors})`);
      }
    }
    return lines.sort();
  }

  @PATCH
  async feature(shelfId: number | null, @Inject env: Env): Promise<HttpResult<Branch>> {
    if (shelfId !== null) {
      const shelf = await env.db.prepare(`SELECT "branchId" FROM "Shelf" WHERE "id" = ?`).bind(shelfId).first<{ branchId: number }>();
      if (!shelf || shelf.branchId !== this.id) {
        return { ok: false, status: 422, message: `Shelf ${shelfId} is not in branch ${this.name}` };
      }
    }
    await env.db.prepare(`UPDATE "Branch" SET "featuredShelfId" = ? WHERE "id" = ?`).bind(shelfId, this.id).run();
    this.featuredShelfId = shelfId;
    return { ok: true, status: 200, data: this };
  }
}

@D1
export class Shelf {
  @PrimaryKey
  id: number;

  label: string;

  @ForeignKey(Branch)
  branchId: number;

  @OneToOne("branchId")
  branch: Branch | undefined;

  @OneToMany("shelfId")
  books: Book[];

  @DataSource
  static readonly withBranch: IncludeTree<Shelf> = { branch: { featured: {} } };

  @POST
  static async add(shelf: Shelf, @Inject env: Env): Promise<Shelf> {
    const row = await env.db
      .prepare(`INSERT INTO "Shelf" ("label", "branchId") VALUES (?, ?) RETURNING *`)
      .bind(shelf.label, shelf.branchId)
      .first();
    return modelsFromSql(Shelf, [row as Record<string, unknown>], null)[0];
  }

  /** This shelf with the relations of the data source (?dataSource=withBranch loads its branch and featured shelf). */
  @GET
  load(): Shelf {
    return this;
  }

  /** Where the shelf is; needs ?dataSource=withBranch. */
  @GET
  whereAmI(): string {
    if (!this.branch) return `${this.label} is nowhere`;
    const featured = this.branch.featured;
    const note = featured === undefined ? "no featured shelf" : featured.id === this.id ? "featured" : `featured is ${featured.label}`;
    return `${this.label} @ ${this.branch.name} (${note})`;
  }

  @DELETE
  async remove(@Inject env: Env): Promise<void> {
    await env.db.prepare(`DELETE FROM "Shelf" WHERE "id" = ?`).bind(this.id).run();
  }
}
