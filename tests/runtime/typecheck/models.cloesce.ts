// Type-checks the runtime's declarations against every decorator shape.
import {
  D1, WranglerEnv, PrimaryKey, ForeignKey, OneToOne, OneToMany, ManyToMany, DataSource,
  GET, POST, PUT, PATCH, DELETE, Inject, IncludeTree, HttpResult, modelsFromSql,
} from "cloesce";

@WranglerEnv
export class Env {
  db!: D1Database;
  motd!: string;
}

@D1
export class Barn {
  @PrimaryKey name!: string;
  capacity!: number;
  @OneToMany("barnName") stalls!: Stall[];
  @ForeignKey("Stall") favouriteStallId!: number | null;
  @OneToOne("favouriteStallId") favourite: Stall | undefined;
  @ManyToMany("BarnsVets") vets!: Vet[];

  @DataSource static readonly withStalls: IncludeTree<Barn> = { stalls: { barn: {} }, favourite: {} };
  @DataSource static readonly empty: IncludeTree<Barn> = {};

  @GET static async list(@Inject env: Env): Promise<Barn[]> {
    const rows = await env.db.prepare(`SELECT * FROM "Barn"`).all();
    return modelsFromSql(Barn, rows.results, Barn.withStalls);
  }
  @POST static create(barn: Barn, @Inject { db }: Env): Barn { void db; return barn; }
  @PUT resize(capacity: number): HttpResult<Barn> {
    if (capacity < 0) return { ok: false, status: 422, message: "negative" };
    this.capacity = capacity;
    return { ok: true, status: 200, data: this };
  }
  @PATCH touch(): HttpResult<void> { return { ok: true, status: 204 }; }
  @DELETE async remove(@Inject env: Env): Promise<void> { await env.db.prepare("DELETE FROM Barn WHERE name = ?").bind(this.name).run(); }
}

@D1
export class Stall {
  @PrimaryKey id!: number;
  @ForeignKey(Barn) barnName!: string;
  @OneToOne("barnName") barn: Barn | undefined;
  occupied!: boolean;
  since!: Date | null;
}

@D1
export class Vet {
  @PrimaryKey id!: number;
  @ManyToMany("BarnsVets") barns!: Barn[];
}

// IncludeTree rejects scalar keys and unknown keys.
// @ts-expect-error capacity is not a navigation property
const bad1: IncludeTree<Barn> = { capacity: {} };
// @ts-expect-error nope is not a property
const bad2: IncludeTree<Barn> = { nope: {} };
// @ts-expect-error nested keys are checked against the target model
const bad3: IncludeTree<Barn> = { stalls: { occupied: {} } };
void bad1; void bad2; void bad3;

export function unwrap(r: HttpResult<number>): number {
  if (!r.ok) throw new Error(r.message);
  return r.data ?? 0;
}
