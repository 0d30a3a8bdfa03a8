// Types of the cloesce runtime (see docs/runtime.md). Hand-written; the
// implementation is index.js. Decorators are typed for TypeScript's
// `experimentalDecorators`.

// ---------------------------------------------------------------------------
// Decorators (no-op markers at run time)
// ---------------------------------------------------------------------------

/** Class decorator: the class is a model backed by a D1 table. */
export declare function D1(target: Function): void;
/** Class decorator: the Worker's env shape (exactly one per project). */
export declare function WranglerEnv(target: Function): void;
/** Property decorator: the model's primary key. */
export declare function PrimaryKey(target: object, propertyKey: string | symbol): void;
/** `@ForeignKey(Model)` or `@ForeignKey("Model")`: FK to Model's primary key. */
export declare function ForeignKey(model: Function | string): PropertyDecorator;
/** `@OneToOne("fkPropertyOnThisModel")` */
export declare function OneToOne(reference: string): PropertyDecorator;
/** `@OneToMany("fkPropertyOnTheOtherModel")` */
export declare function OneToMany(reference: string): PropertyDecorator;
/** `@ManyToMany("JunctionTableName")`, the same name on both sides. */
export declare function ManyToMany(uniqueId: string): PropertyDecorator;
/** Property decorator (normally `static readonly`): an include tree. */
export declare function DataSource(target: object, propertyKey: string | symbol): void;

/** Method decorators: expose the method over HTTP with that verb. */
export declare function GET(target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
export declare function POST(target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
export declare function PUT(target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
export declare function PATCH(target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;
export declare function DELETE(target: object, propertyKey: string | symbol, descriptor: PropertyDescriptor): void;

/** Parameter decorator: the runtime supplies this parameter (the env). */
export declare function Inject(target: object, propertyKey: string | symbol | undefined, parameterIndex: number): void;

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

type NavTarget<V> = [NonNullable<V>] extends [readonly (infer U)[]]
  ? U extends object
    ? U
    : never
  : NonNullable<V> extends Function | Date | ArrayBuffer | ArrayBufferView
    ? never
    : NonNullable<V> extends object
      ? NonNullable<V>
      : never;

/**
 * Which navigation properties of T to load: each key names a navigation
 * property (a model or an array of models); `{}` loads it and stops there.
 */
export type IncludeTree<T> = {
  [K in keyof T as [NavTarget<T[K]>] extends [never] ? never : K]?: IncludeTree<NavTarget<T[K]>>;
};

/**
 * The JSON envelope of every response, and what an `HttpResult<T>` method
 * returns: the HTTP status of the response is `status`. A discriminated union
 * on `ok`: after `if (r.ok)`, `r.data` is a `T`. `data` may be left out only
 * when `T` admits `undefined` (`void`, `unknown`). The last member is apart
 * so that generic code can still build `{ ok: true, status, data }` for a `T`.
 */
export type HttpResult<T = unknown> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; message: string }
  | (undefined extends T ? { ok: true; status: number; data?: undefined } : never);

/** A CidlType of the IR (MODEL-LANGUAGE §2). */
export type CidlType =
  | "Void"
  | "Integer"
  | "Real"
  | "Text"
  | "Blob"
  | { Inject: string }
  | { Model: string }
  | { Array: CidlType }
  | { HttpResult: CidlType }
  | { Nullable: CidlType };

export interface NamedTypedValue {
  name: string;
  cidl_type: CidlType;
}

export interface CidlIncludeTree {
  [navigation: string]: CidlIncludeTree;
}

export interface CidlModel {
  name: string;
  attributes: { value: NamedTypedValue; foreign_key_reference: string | null }[];
  primary_key: NamedTypedValue;
  navigation_properties: {
    var_name: string;
    model_name: string;
    kind: { OneToOne: { reference: string } } | { OneToMany: { reference: string } } | { ManyToMany: { unique_id: string } };
  }[];
  methods: {
    [name: string]: {
      name: string;
      is_static: boolean;
      http_verb: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
      return_type: CidlType;
      parameters: NamedTypedValue[];
    };
  };
  data_sources: { [name: string]: { name: string; tree: CidlIncludeTree } };
  source_path: string;
}

/** The IR, `cidl.json`. */
export interface CloesceAst {
  version: string;
  project_name: string;
  language: string;
  wrangler_env: { name: string; source_path: string };
  models: { [name: string]: CidlModel };
}

/** Model constructors keyed by model name, as in the generated workers.ts. */
export type ConstructorRegistry = { [model: string]: Function };

export interface CloesceConfig {
  /** Name of the `@WranglerEnv` class: the instance registry key of the env. */
  envName: string;
  /** The D1 binding (a field of the env) used for hydration. */
  dbName: string;
}

/**
 * Handles one Worker request against the IR: routing, validation, hydration,
 * dependency injection, dispatch. Resolves to a JSON Response whose body is an
 * `HttpResult` envelope.
 */
export declare function cloesce(
  request: Request,
  cidl: CloesceAst,
  constructorRegistry: ConstructorRegistry,
  instanceRegistry: Map<string, unknown>,
  config: CloesceConfig,
  apiRoute: string,
): Promise<Response>;

export interface ModelsFromSqlOptions {
  cidl?: CloesceAst;
  constructorRegistry?: ConstructorRegistry;
}

/**
 * Turns D1 rows (plain table rows, or rows of a `<Model>_<ds>` view with
 * `<alias>_<column>` columns) into model instances, loading the relations that
 * `includeTree` names. Inside a request the IR is known; elsewhere pass
 * `{ cidl, constructorRegistry }`.
 */
export declare function modelsFromSql<T extends object>(
  ctor: new () => T,
  rows: readonly Record<string, unknown>[] | { results?: readonly Record<string, unknown>[] },
  includeTree: IncludeTree<T> | CidlIncludeTree | null,
  options?: ModelsFromSqlOptions,
): T[];

/** `data.map(d => Object.assign(new ctor(), d))`, used by the generated client. */
export declare function instantiateModelArray<T extends object>(data: readonly unknown[], ctor: new () => T): T[];
export declare function instantiateModelArray<T extends object>(data: unknown, ctor: new () => T): T[];

/** Makes an IR known to modelsFromSql() outside a request (cloesce() does it per request). */
export declare function registerModels(cidl: CloesceAst, constructorRegistry?: ConstructorRegistry): void;

// ---------------------------------------------------------------------------
// The generated client (client.ts)
// ---------------------------------------------------------------------------

/** Where and how a generated client sends its requests. */
export interface ClientOptions {
  /**
   * The API's base URL, e.g. `"https://api.example.com/api"`, or `"/api"`
   * for the page's own origin (relative URLs need a fetch that resolves them,
   * as a browser's does). Defaults to the build-time `domain` setting.
   */
  baseUrl?: string | URL;
  /** The fetch to call (headers, auth, tests). Defaults to `globalThis.fetch`. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}

/**
 * Sets the base URL and/or fetch of every generated client that has none of
 * its own (`createClient`). Replaces the previous global setting.
 */
export declare function configureClient(options: ClientOptions): void;

/** A mistake in the calling code found before any request (e.g. an unset primary key). */
export declare class CloesceClientError extends Error {
  name: "CloesceClientError";
}

/** What the generated client tells the runtime about one model. */
export interface ClientModelShape {
  /** The primary key's name. */
  key: string;
  /** The columns declared `boolean` or `Date` (0/1 and ISO text on the wire). */
  fields: { [field: string]: "Boolean" | "Date" };
  /** Navigation property → the related model's name. */
  relations: { [navigation: string]: string };
}

/** One call of an API method, as the generated client describes it. */
export interface ClientCall {
  model: string;
  method: string;
  verb: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  instance: boolean;
  params: { [name: string]: unknown };
  /** Parameters that are models (or arrays of them): parameter → model name. */
  models?: { [name: string]: string };
  dataSource: string | null;
  /** How to turn `data` into what the method declares. */
  returns?: { model: string } | { as: "Boolean" | "Date" };
}

/** The runtime side of one generated client.ts. */
export interface ModelClient<M> {
  call(self: object, spec: ClientCall): Promise<any>;
  /** The same models as subclasses bound to `options` (what `createClient` returns). */
  bind(options: ClientOptions): M;
}

/** Used by the generated client.ts. */
export declare function defineClient<M extends { [name: string]: new () => object }>(
  classes: M,
  shapes: { [K in keyof M]: ClientModelShape },
  defaultBaseUrl: string,
): ModelClient<M>;
