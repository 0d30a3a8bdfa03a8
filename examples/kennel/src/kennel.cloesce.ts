// A small kennel: owners and their dogs.
import {
  D1,
  WranglerEnv,
  PrimaryKey,
  ForeignKey,
  OneToOne,
  OneToMany,
  DataSource,
  GET,
  POST,
  Inject,
  IncludeTree,
  HttpResult,
  modelsFromSql,
} from "cloesce";

@WranglerEnv
export class Env {
  db: D1Database;
  KENNEL_NAME: string;
}

@D1
export class Owner {
  @PrimaryKey
  id: number;

  name: string;
  phone: string | null;

  @OneToMany("ownerId")
  dogs: Dog[];

  @DataSource
  static readonly withDogs: IncludeTree<Owner> = { dogs: {} };

  @POST
  static async register(owner: Owner, @Inject env: Env): Promise<Owner> {
    const row = await env.db
      .prepare(`INSERT INTO "Owner" ("name", "phone") VALUES (?, ?) RETURNING *`)
      .bind(owner.name, owner.phone)
      .first();
    return modelsFromSql(Owner, [row as Record<string, unknown>], null)[0];
  }

  @GET
  static async all(@Inject env: Env): Promise<Owner[]> {
    const rows = await env.db.prepare(`SELECT * FROM "Owner_withDogs" ORDER BY "Owner_id", "Dog_id"`).all();
    return modelsFromSql(Owner, rows.results, Owner.withDogs);
  }

  @GET
  pack(): string[] {
    return this.dogs.map((d) => d.name);
  }

  @POST
  async adopt(name: string, @Inject env: Env): Promise<HttpResult<Dog>> {
    if (this.dogs.length >= 3) {
      return { ok: false, status: 409, message: `${this.name} already has ${this.dogs.length} dogs` };
    }
    const row = await env.db
      .prepare(`INSERT INTO "Dog" ("name", "ownerId") VALUES (?, ?) RETURNING *`)
      .bind(name, this.id)
      .first();
    return { ok: true, status: 201, data: modelsFromSql(Dog, [row as Record<string, unknown>], null)[0] };
  }
}

@D1
export class Dog {
  @PrimaryKey
  id: number;

  name: string;

  @ForeignKey(Owner)
  ownerId: number;

  @OneToOne("ownerId")
  owner: Owner | undefined;

  @DataSource
  static readonly withOwner: IncludeTree<Dog> = { owner: { dogs: {} } };

  @GET
  describe(@Inject env: Env): string {
    const mates = (this.owner?.dogs ?? []).filter((d) => d.id !== this.id).map((d) => d.name);
    return `${this.name} (${env.KENNEL_NAME}) lives with ${this.owner?.name ?? "nobody"}` +
      (mates.length ? ` and ${mates.join(", ")}` : "");
  }

  @POST
  static async checkIn(dog: Dog, @Inject env: Env): Promise<Dog> {
    const row = await env.db
      .prepare(`INSERT INTO "Dog" ("id", "name", "ownerId") VALUES (?, ?, ?) RETURNING *`)
      .bind(dog.id, dog.name, dog.ownerId)
      .first();
    return modelsFromSql(Dog, [row as Record<string, unknown>], null)[0];
  }
}
