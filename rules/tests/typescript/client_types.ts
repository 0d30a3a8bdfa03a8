// Type tests of the generated client.ts (big fixture) against the real runtime
// types (npm-wrapper/package/runtime/index.d.ts), under tsc --strict. Every
// `@ts-expect-error` line must be an error, or tsc fails ("unused directive").
import { configureClient, CloesceClientError, type HttpResult } from "cloesce";
import { Person, Dog, Course, Student, createClient, type PersonData } from "../.generated/client";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

export async function results(): Promise<void> {
  // A result narrows on `ok`: `data` is there, typed, without `!` or casts.
  const created = await Person.create({ name: "Ada", born: new Date(0) });
  if (created.ok) {
    assertType<Equal<typeof created.data, Person>>();
    const when: Date = created.data.born;
    const admin: boolean | null = created.data.isAdmin;
    void when, admin;
  } else {
    const why: string = created.message;
    void why;
  }
  // @ts-expect-error: before narrowing, `data` is not known to be there
  created.data.name;

  const list = await Person.list();
  if (list.ok) assertType<Equal<typeof list.data, Person[]>>();
  const passport = await Person.ref(1).passportOf();
  if (passport.ok) assertType<Equal<typeof passport.data, import("../.generated/client").Passport | null>>();
  const renamed = await Person.ref(1).rename("Bo");
  // A void method: `data` is absent.
  if (renamed.ok) assertType<Equal<typeof renamed.data, void | undefined>>();
  const roster = await Course.ref(1).roster();
  // @ts-expect-error: Course has no data sources
  await Course.ref(1).roster("withStudents");
  if (roster.ok) assertType<Equal<typeof roster.data, Student[]>>();
  // @ts-expect-error: a failure has no data
  if (!roster.ok) roster.data;

  // Relations are model classes at every depth: their methods are callable.
  const full = await Person.search("a", null, true);
  if (full.ok) {
    const dog: Dog | undefined = full.data[0]?.dogs[0];
    if (dog) await dog.fetchToy([{ label: "ball", dogId: dog.id }]);
  }
}

export async function parameters(): Promise<void> {
  // Model parameters take the data shape: plain object literals, no methods,
  // the primary key and nullable columns optional, relations optional.
  await Person.create({ name: "Ada", born: new Date(), isAdmin: true });
  await Person.create({ name: "Ada", born: new Date(), dogs: [{ name: "Rex", ownerId: 1, toys: [] }] });
  const data: PersonData = { id: 3, name: "Cy", born: new Date(), nickname: null };
  await Person.create(data);
  // An instance is data too.
  await Person.create(Person.ref(1));
  // @ts-expect-error: `name` is required
  await Person.create({ born: new Date() });
  // @ts-expect-error: `isAdmin` is a boolean, not 0/1
  await Person.create({ name: "Ada", born: new Date(), isAdmin: 1 });
  // @ts-expect-error: `born` is a Date, not a string
  await Person.create({ name: "Ada", born: "2020-01-01" });
  // @ts-expect-error: unknown fields are typos
  await Person.create({ name: "Ada", born: new Date(), nick: "A" });
  // @ts-expect-error: scalar parameters keep their types
  await Person.search(1, null, true);
  // @ts-expect-error: the data source is one of the model's
  await Person.ref(1).motd("everything");
  await Person.ref(1).motd("full");
  // @ts-expect-error: ref takes the primary key's type
  Person.ref("1");
  const adopted = await Person.ref(1).adopt({ name: "Rex", ownerId: 1 });
  if (adopted.ok) assertType<Equal<typeof adopted.data, Dog>>();
}

export function setup(): void {
  configureClient({ baseUrl: "/api" });
  configureClient({ fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, Authorization: "Bearer x" } }) });
  const api = createClient({ baseUrl: new URL("https://api.example.com/api"), fetch });
  const p: Person = api.Person.ref(1);
  void p;
  // @ts-expect-error: baseUrl is a string or URL
  createClient({ baseUrl: 8787 });
  const e: Error = new CloesceClientError("x");
  void e;
  const r: HttpResult<void> = { ok: true, status: 200 };
  // Generic code builds results for any T, and narrows them.
  const wrap = <T,>(data: T): HttpResult<T> => ({ ok: true, status: 200, data });
  const unwrap = <T,>(x: HttpResult<T>): T | undefined => (x.ok ? x.data : undefined);
  assertType<Equal<ReturnType<typeof unwrap<string>>, string | undefined>>();
  void wrap, unwrap;
  // @ts-expect-error: an HttpResult<T> success carries its data
  const s: HttpResult<number> = { ok: true, status: 200 };
  void r, s;
}
