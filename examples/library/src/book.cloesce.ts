// Books (text primary key: the ISBN) and their authors (many-to-many).
import {
  D1,
  PrimaryKey,
  ForeignKey,
  OneToOne,
  ManyToMany,
  DataSource,
  GET,
  POST,
  PUT,
  Inject,
  IncludeTree,
  HttpResult,
  modelsFromSql,
} from "cloesce";
import { Env } from "./env.cloesce";
import { Shelf } from "./branch.cloesce";

@D1
export class Author {
  @PrimaryKey
  id: number;

  name: string;

  @ManyToMany("BookAuthors")
  books: Book[];

  @DataSource
  static readonly withBooks: IncludeTree<Author> = { books: {} };

  @POST
  static async add(name: string, @Inject env: Env): Promise<Author> {
    const row = await env.db.prepare(`INSERT INTO "Author" ("name") VALUES (?) RETURNING *`).bind(name).first();
    return modelsFromSql(Author, [row as Record<string, unknown>], null)[0];
  }

  /** Sorted titles; needs ?dataSource=withBooks. */
  @GET
  bibliography(): string[] {
    return this.books.map((b) => b.title).sort();
  }
}

@D1
export class Book {
  @PrimaryKey
  isbn: string;

  title: string;
  year: number;
  available: boolean;

  @ForeignKey(Shelf)
  shelfId: number | null;

  @OneToOne("shelfId")
  shelf: Shelf | undefined;

  @ManyToMany("BookAuthors")
  authors: Author[];

  @DataSource
  static readonly withAuthors: IncludeTree<Book> = { authors: {} };

  @DataSource
  static readonly full: IncludeTree<Book> = { shelf: { branch: {} }, authors: { books: {} } };

  @POST
  static async catalog(book: Book, authorIds: number[], @Inject env: Env): Promise<HttpResult<Book>> {
    const exists = await env.db.prepare(`SELECT 1 AS x FROM "Book" WHERE "isbn" = ?`).bind(book.isbn).first();
    if (exists) return { ok: false, status: 409, message: `Book ${book.isbn} is already catalogued` };
    const stmts = [
      env.db
        .prepare(`INSERT INTO "Book" ("isbn", "title", "year", "available", "shelfId") VALUES (?, ?, ?, ?, ?)`)
        .bind(book.isbn, book.title, book.year, book.available ? 1 : 0, book.shelfId),
      ...authorIds.map((a) => env.db.prepare(`INSERT INTO "BookAuthors" ("Author_id", "Book_isbn") VALUES (?, ?)`).bind(a, book.isbn)),
    ];
    await env.db.batch(stmts);
    const rows = await env.db.prepare(`SELECT * FROM "Book_withAuthors" WHERE "Book_isbn" = ?`).bind(book.isbn).all();
    return { ok: true, status: 201, data: modelsFromSql(Book, rows.results, Book.withAuthors)[0] };
  }

  @GET
  static async search(term: string, before: number | null, @Inject env: Env): Promise<Book[]> {
    const rows = await env.db
      .prepare(`SELECT * FROM "Book" WHERE "title" LIKE ? AND (? IS NULL OR "year" < ?) ORDER BY "isbn"`)
      .bind(`%${term}%`, before, before)
      .all();
    return modelsFromSql(Book, rows.results, null);
  }

  @PUT
  async revise(title: string, year: number, @Inject env: Env): Promise<Book> {
    await env.db.prepare(`UPDATE "Book" SET "title" = ?, "year" = ? WHERE "isbn" = ?`).bind(title, year, this.isbn).run();
    this.title = title;
    this.year = year;
    return this;
  }

  /** This book with the relations of the data source (?dataSource=full loads its shelf, branch, authors and their books). */
  @GET
  load(): Book {
    return this;
  }

  /** "Title (year) by A & B, shelf @ branch; also by them: ..."; best with ?dataSource=full. */
  @GET
  summary(): string {
    const authors = this.authors.map((a) => a.name).sort();
    const place = this.shelf ? `${this.shelf.label} @ ${this.shelf.branch?.name ?? "?"}` : "not shelved";
    const others = new Set<string>();
    for (const a of this.authors) for (const b of a.books) if (b.isbn !== this.isbn) others.add(b.title);
    const also = others.size ? `; also by them: ${[...others].sort().join(", ")}` : "";
    return `${this.title} (${this.year}) by ${authors.join(" & ")}, ${place}${also}`;
  }
}
