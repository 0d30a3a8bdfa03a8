// Loans of books to patrons. The FK is the book's text primary key.
import { D1, PrimaryKey, ForeignKey, OneToOne, DataSource, POST, DELETE, GET, Inject, IncludeTree, HttpResult, modelsFromSql } from "cloesce";
import { Env } from "./env.cloesce";
import { Book } from "./book.cloesce";

@D1
export class Loan {
  @PrimaryKey
  id: number;

  @ForeignKey(Book)
  bookIsbn: string;

  patron: string;
  returned: boolean;

  @OneToOne("bookIsbn")
  book: Book | undefined;

  @DataSource
  static readonly withBook: IncludeTree<Loan> = { book: {} };

  @POST
  static async lend(isbn: string, patron: string, @Inject env: Env): Promise<HttpResult<Loan>> {
    const book = await env.db.prepare(`SELECT "isbn" FROM "Book" WHERE "isbn" = ?`).bind(isbn).first();
    if (!book) return { ok: false, status: 404, message: `No book ${isbn}` };
    const open = await env.db.prepare(`SELECT "id" FROM "Loan" WHERE "bookIsbn" = ? AND "returned" = 0`).bind(isbn).first();
    if (open) return { ok: false, status: 409, message: `Book ${isbn} is already lent` };
    const row = await env.db
      .prepare(`INSERT INTO "Loan" ("bookIsbn", "patron", "returned") VALUES (?, ?, 0) RETURNING *`)
      .bind(isbn, patron)
      .first();
    return { ok: true, status: 201, data: modelsFromSql(Loan, [row as Record<string, unknown>], null)[0] };
  }

  /** When a loan made on `lentOn` is due back. A Date parameter reaches the Worker as ISO text. */
  @GET
  static dueDate(lentOn: Date, days: number): Date {
    return new Date(new Date(lentOn).getTime() + days * 86_400_000);
  }

  @GET
  label(): string {
    return `${this.book?.title ?? this.bookIsbn} -> ${this.patron}${this.returned ? " (returned)" : ""}`;
  }

  @DELETE
  async giveBack(@Inject env: Env): Promise<HttpResult<void>> {
    if (this.returned) return { ok: false, status: 409, message: `Loan ${this.id} was already returned` };
    await env.db.prepare(`UPDATE "Loan" SET "returned" = 1 WHERE "id" = ?`).bind(this.id).run();
    return { ok: true, status: 200 };
  }
}
