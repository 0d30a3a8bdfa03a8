import { D1, PrimaryKey, ForeignKey, OneToOne, WranglerEnv } from "cloesce";
@WranglerEnv
export class Env { db!: D1Database; }
@D1
export class M {
  @PrimaryKey
  id!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f0!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f1!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f2!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f3!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f4!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f5!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f6!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f7!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f8!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f9!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f10!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f11!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f12!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f13!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f14!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f15!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f16!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f17!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f18!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f19!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f20!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f21!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f22!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f23!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f24!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f25!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f26!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f27!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f28!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f29!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f30!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f31!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f32!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f33!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f34!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f35!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f36!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f37!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f38!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f39!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f40!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f41!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f42!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f43!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f44!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f45!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f46!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f47!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f48!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f49!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f50!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f51!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f52!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f53!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f54!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f55!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f56!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f57!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f58!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f59!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f60!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f61!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f62!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f63!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f64!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f65!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f66!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f67!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f68!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f69!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f70!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f71!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f72!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f73!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f74!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f75!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f76!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f77!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f78!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f79!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f80!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f81!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f82!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f83!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f84!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f85!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f86!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f87!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f88!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f89!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f90!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f91!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f92!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f93!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f94!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f95!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f96!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f97!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f98!: number;
  @PrimaryKey @ForeignKey(M) @OneToOne("id") @Nope
  f99!: number;
}
