import { D1, GET, POST, PrimaryKey, WranglerEnv, Inject, HttpResult } from "cloesce";

@WranglerEnv
export class Env {
  db!: D1Database;
}

@D1
export class Horse {
  @PrimaryKey
  id!: number;

  name!: string;
  bio!: string | null;

  @POST
  static async post(@Inject { db }: Env, horse: Horse): Promise<Horse> {
    await db.prepare("INSERT INTO Horse (id, name, bio) VALUES (?, ?, ?)").bind(horse.id, horse.name, horse.bio).run();
    return horse;
  }

  @GET
  static async get(@Inject { db }: Env, id: number): Promise<HttpResult<Horse>> {
    const row = await db.prepare("SELECT * FROM Horse WHERE id = ?").bind(id).first();
    if (row === null) return { ok: false, status: 404, message: "no such horse" };
    return { ok: true, status: 200, data: Object.assign(new Horse(), row) };
  }

  // A local helper: no verb decorator, so it is not exposed.
  describe(): string {
    return `${this.name}: ${this.bio ?? ""}`;
  }
}
