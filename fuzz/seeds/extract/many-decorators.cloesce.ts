import { D1, PrimaryKey, ForeignKey, OneToOne, WranglerEnv } from "cloesce";
@WranglerEnv
export class Env { db!: D1Database; }
@D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 @D1 export class M {
  @PrimaryKey
  id!: number;
}
