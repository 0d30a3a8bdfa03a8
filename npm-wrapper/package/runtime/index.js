// The cloesce runtime: decorators (no-op markers), the request handler that the
// generated workers.ts calls, and the row-folding helpers used by user code and
// by the generated client. Plain ESM, no dependencies, no build step.
// Contract: docs/runtime.md and MODEL-LANGUAGE.md §4.4.

// ---------------------------------------------------------------------------
// Decorators. The extractor recognises them by name; at run time they do
// nothing. They accept the call shapes of TypeScript `experimentalDecorators`
// (class, property, method and parameter decorators).
// ---------------------------------------------------------------------------

function marker() {}

/** Class decorator: the class is a model backed by a D1 table. */
export const D1 = marker;
/** Class decorator: the Worker's env shape. */
export const WranglerEnv = marker;
/** Property decorator: the model's primary key. */
export const PrimaryKey = marker;
/** Property decorator: the model's data source (an include tree). */
export const DataSource = marker;
/** Method decorators: expose the method over HTTP with that verb. */
export const GET = marker;
export const POST = marker;
export const PUT = marker;
export const PATCH = marker;
export const DELETE = marker;
/** Parameter decorator: the runtime supplies this parameter (the env). */
export const Inject = marker;

/** `@ForeignKey(Model)`: the column is an FK to Model's primary key. */
export function ForeignKey(_model) {
  return marker;
}
/** `@OneToOne("fkOnThisModel")` */
export function OneToOne(_reference) {
  return marker;
}
/** `@OneToMany("fkOnOtherModel")` */
export function OneToMany(_reference) {
  return marker;
}
/** `@ManyToMany("JunctionTable")` */
export function ManyToMany(_uniqueId) {
  return marker;
}

// ---------------------------------------------------------------------------
// Response envelopes
// ---------------------------------------------------------------------------

const JSON_HEADERS = { "Content-Type": "application/json" };

function respond(body, extraHeaders) {
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: extraHeaders ? { ...JSON_HEADERS, ...extraHeaders } : JSON_HEADERS,
  });
}

function fail(status, message, extraHeaders) {
  return respond({ ok: false, status, message }, extraHeaders);
}

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const BAD = "Invalid Request Body: ";

// ---------------------------------------------------------------------------
// IR helpers
// ---------------------------------------------------------------------------

function typeTag(t) {
  if (typeof t === "string") return t;
  if (t && typeof t === "object") return Object.keys(t)[0];
  return undefined;
}

function typeInner(t) {
  return t[typeTag(t)];
}

/** `{"Inject": X}` or `{"Nullable": {"Inject": X}}` → X, else undefined. */
function injectedTypeName(t) {
  while (typeTag(t) === "Nullable") t = t.Nullable;
  return typeTag(t) === "Inject" ? t.Inject : undefined;
}

function isHttpResultType(t) {
  return typeTag(t) === "HttpResult";
}

// The last registered IR, so that user code can call modelsFromSql() from
// inside a method without passing the IR around.
let registered = null;

/** Make the IR and constructors known to modelsFromSql() (cloesce() does it). */
export function registerModels(cidl, constructorRegistry) {
  registered = { cidl, constructorRegistry: constructorRegistry || {} };
}

// ---------------------------------------------------------------------------
// Include-tree aliases (MODEL-LANGUAGE §4.2): depth-first, children in sorted
// navigation-name order; a model's first use is aliased by its name, then
// `<Model>_1`, `<Model>_2`, ...
// ---------------------------------------------------------------------------

/**
 * Builds the alias plan for a view: a tree of
 * `{ model, alias, children: [{ nav, node }] }`, in the same pre-order the
 * SQL generator used to name the view's `<alias>_<column>` columns.
 */
export function aliasPlan(cidl, modelName, tree) {
  const uses = new Map();
  function visit(name, subtree) {
    const model = cidl.models[name];
    if (!model) throw new Error(`Unknown model ${name}`);
    const n = uses.get(name) || 0;
    uses.set(name, n + 1);
    const alias = n === 0 ? name : `${name}_${n}`;
    const node = { model, alias, children: [] };
    const keys = Object.keys(subtree || {}).sort(compareNames);
    for (const key of keys) {
      const nav = model.navigation_properties.find((p) => p.var_name === key);
      if (!nav) continue; // validation rejects these; the view has no columns for them
      node.children.push({ nav, node: visit(nav.model_name, subtree[key]) });
    }
    return node;
  }
  return visit(modelName, tree);
}

// Code-unit ordering: the same as Rust's BTreeMap<String, _> (byte order) for
// the ASCII identifiers that model and property names are.
function compareNames(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isArrayNav(nav) {
  const kind = typeTag(nav.kind);
  return kind === "OneToMany" || kind === "ManyToMany";
}

function newInstance(ctors, modelName, fallbackCtor) {
  const Ctor = fallbackCtor || (ctors && ctors[modelName]);
  return typeof Ctor === "function" ? new Ctor() : {};
}

function initNavigations(inst, model) {
  for (const nav of model.navigation_properties) {
    if (isArrayNav(nav)) inst[nav.var_name] = [];
  }
}

/** Folds view rows into instances for one plan node, de-duplicated by PK. */
function foldNode(rows, node, ctors, rootCtor) {
  const { model, alias } = node;
  const pkCol = `${alias}_${model.primary_key.name}`;
  const groups = new Map();
  for (const row of rows) {
    const pk = row[pkCol];
    if (pk === null || pk === undefined) continue; // LEFT JOIN without a match
    let group = groups.get(pk);
    if (!group) {
      const inst = newInstance(ctors, model.name, rootCtor);
      inst[model.primary_key.name] = pk;
      for (const attr of model.attributes) {
        const v = row[`${alias}_${attr.value.name}`];
        inst[attr.value.name] = v === undefined ? null : v;
      }
      initNavigations(inst, model);
      group = { inst, rows: [] };
      groups.set(pk, group);
    }
    group.rows.push(row);
  }
  const out = [];
  for (const { inst, rows: own } of groups.values()) {
    for (const { nav, node: child } of node.children) {
      const children = foldNode(own, child, ctors, undefined);
      inst[nav.var_name] = isArrayNav(nav) ? children : children[0];
    }
    out.push(inst);
  }
  return out;
}

function foldPlain(rows, model, ctors, rootCtor) {
  return rows.map((row) => {
    const inst = newInstance(ctors, model.name, rootCtor);
    const pk = row[model.primary_key.name];
    inst[model.primary_key.name] = pk === undefined ? null : pk;
    for (const attr of model.attributes) {
      const v = row[attr.value.name];
      inst[attr.value.name] = v === undefined ? null : v;
    }
    initNavigations(inst, model);
    return inst;
  });
}

function resolveModelName(Ctor, cidl, ctors) {
  if (typeof Ctor === "string") return Ctor;
  for (const [name, c] of Object.entries(ctors || {})) {
    if (c === Ctor && cidl.models[name]) return name;
  }
  if (Ctor && cidl.models[Ctor.name]) return Ctor.name;
  throw new Error(`modelsFromSql: ${Ctor && Ctor.name} is not a model of the IR`);
}

/**
 * Turns D1 rows into model instances. `rows` are either plain table rows
 * (unprefixed columns, relations not loaded) or rows of a data-source view
 * (`<alias>_<column>`), detected by the presence of the `<Model>_<pk>` column.
 * The IR comes from `options.cidl` or from the last cloesce() call.
 */
export function modelsFromSql(Ctor, rows, includeTree, options) {
  const cidl = (options && options.cidl) || (registered && registered.cidl);
  const ctors =
    (options && options.constructorRegistry) || (registered && registered.constructorRegistry) || {};
  if (!cidl) {
    throw new Error("modelsFromSql: no IR known; call it inside a cloesce() request or pass { cidl }");
  }
  const list = Array.isArray(rows) ? rows : rows && Array.isArray(rows.results) ? rows.results : [];
  const modelName = resolveModelName(Ctor, cidl, ctors);
  const model = cidl.models[modelName];
  const ctor = typeof Ctor === "function" ? Ctor : undefined;
  const prefixed = `${modelName}_${model.primary_key.name}`;
  const isView = list.some((r) => r && Object.prototype.hasOwnProperty.call(r, prefixed));
  if (!isView) return foldPlain(list, model, ctors, ctor);
  return foldNode(list, aliasPlan(cidl, modelName, includeTree || {}), ctors, ctor);
}

const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Object.assign without the keys that would reach the prototype. */
function assignSafe(target, source) {
  if (source && typeof source === "object") {
    for (const key of Object.keys(source)) {
      if (!UNSAFE_KEYS.has(key)) target[key] = source[key];
    }
  }
  return target;
}

/** `data.map(d => Object.assign(new Ctor(), d))`; non-arrays pass through. */
export function instantiateModelArray(data, Ctor) {
  if (!Array.isArray(data)) return data;
  return data.map((d) => assignSafe(new Ctor(), d));
}

// ---------------------------------------------------------------------------
// Validation and coercion of parameters
// ---------------------------------------------------------------------------

const INVALID = Symbol("invalid");

/**
 * Validates (and, for GET query strings, coerces) one value against a
 * CidlType. Returns the value to pass to the method, or INVALID.
 */
function checkValue(v, t, ctx) {
  const tag = typeTag(t);
  switch (tag) {
    case "Nullable":
      if (v === null || (ctx.fromQuery && v === "null")) return null;
      if (v === undefined) return ctx.allowMissing ? null : INVALID;
      return checkValue(v, t.Nullable, ctx);
    case "Integer":
      if (ctx.fromQuery) {
        if (v === "true") return 1;
        if (v === "false") return 0;
        if (typeof v === "string" && /^[+-]?\d+$/.test(v.trim())) return Number(v);
        return INVALID;
      }
      if (typeof v === "boolean") return v;
      if (typeof v === "number" && Number.isInteger(v)) return v;
      return INVALID;
    case "Real":
      if (ctx.fromQuery) {
        if (typeof v !== "string" || v.trim() === "") return INVALID;
        const n = Number(v);
        return Number.isFinite(n) ? n : INVALID;
      }
      return typeof v === "number" && Number.isFinite(v) ? v : INVALID;
    case "Text":
      return typeof v === "string" ? v : INVALID;
    case "Blob":
      if (v instanceof ArrayBuffer || (typeof Blob !== "undefined" && v instanceof Blob)) return v;
      if (ArrayBuffer.isView(v)) return v;
      if (Array.isArray(v) && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        return new Uint8Array(v);
      }
      return INVALID;
    case "Array": {
      if (!Array.isArray(v)) return INVALID;
      const out = [];
      for (const el of v) {
        const c = checkValue(el, t.Array, { ...ctx, allowMissing: false });
        if (c === INVALID) return INVALID;
        out.push(c);
      }
      return out;
    }
    case "Model":
      return checkModel(v, t.Model, ctx);
    default:
      return INVALID; // Void, Inject, HttpResult are not request values
  }
}

function checkModel(v, modelName, ctx) {
  const model = ctx.cidl.models[modelName];
  if (!model || v === null || typeof v !== "object" || Array.isArray(v)) return INVALID;
  const inst = assignSafe(newInstance(ctx.ctors, modelName), v);
  const sub = { ...ctx, allowMissing: true };
  const pk = v[model.primary_key.name];
  if (pk !== undefined && pk !== null) {
    const c = checkValue(pk, model.primary_key.cidl_type, sub);
    if (c === INVALID) return INVALID;
    inst[model.primary_key.name] = c;
  }
  for (const attr of model.attributes) {
    const c = checkValue(v[attr.value.name], attr.value.cidl_type, sub);
    if (c === INVALID) return INVALID;
    inst[attr.value.name] = c;
  }
  for (const nav of model.navigation_properties) {
    const nv = v[nav.var_name];
    if (nv === undefined || nv === null) {
      if (isArrayNav(nav)) inst[nav.var_name] = [];
      continue;
    }
    const navType = isArrayNav(nav) ? { Array: { Model: nav.model_name } } : { Model: nav.model_name };
    const c = checkValue(nv, navType, sub);
    if (c === INVALID) return INVALID;
    inst[nav.var_name] = c;
  }
  return inst;
}

// ---------------------------------------------------------------------------
// Request handling (MODEL-LANGUAGE §4.4)
// ---------------------------------------------------------------------------

const PATH_HELP = "Path not found: Expected /model/method or /model/:id/method";

function route(request, cidl, apiRoute) {
  const url = new URL(request.url);
  const path = url.pathname;
  const prefix = (apiRoute || "").replace(/\/+$/, "");
  if (prefix && path !== prefix && !path.startsWith(prefix + "/")) {
    throw new HttpError(404, `Path not found: Expected the API route ${prefix} ${path}`);
  }
  let segments;
  try {
    segments = path
      .slice(prefix.length)
      .split("/")
      .filter((s) => s !== "")
      .map((s) => decodeURIComponent(s));
  } catch {
    throw new HttpError(404, `${PATH_HELP} ${path}`);
  }
  if (segments.length < 2 || segments.length > 3) {
    throw new HttpError(404, `${PATH_HELP} ${path}`);
  }
  const modelName = segments[0];
  const methodName = segments[segments.length - 1];
  const id = segments.length === 3 ? segments[1] : undefined;
  const model = Object.prototype.hasOwnProperty.call(cidl.models, modelName)
    ? cidl.models[modelName]
    : undefined;
  if (!model) throw new HttpError(404, `Path not found: Unknown model ${modelName} ${path}`);
  const method = Object.prototype.hasOwnProperty.call(model.methods, methodName)
    ? model.methods[methodName]
    : undefined;
  if (!method) {
    throw new HttpError(404, `Path not found: Unknown method ${modelName}.${methodName} ${path}`);
  }
  if (request.method.toUpperCase() !== method.http_verb) {
    const err = new HttpError(405, `Method not allowed: Unmatched HTTP method ${path}`);
    err.headers = { Allow: method.http_verb };
    throw err;
  }
  if (method.is_static && id !== undefined) {
    throw new HttpError(404, `Path not found: ${modelName}.${methodName} is static and takes no id ${path}`);
  }
  if (!method.is_static && id === undefined) {
    throw new HttpError(400, `${BAD}Id's are required for instantiated methods.`);
  }
  return { url, model, method, id };
}

async function readParams(request, url, method, cidl, ctors) {
  const fromQuery = method.http_verb === "GET";
  let body = null;
  if (!fromQuery) {
    let text;
    try {
      text = await request.text();
    } catch {
      throw new HttpError(400, `${BAD}Could not retrieve JSON body.`);
    }
    if (text.trim() === "") {
      body = {};
    } else {
      try {
        body = JSON.parse(text);
      } catch {
        throw new HttpError(400, `${BAD}Could not retrieve JSON body.`);
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        throw new HttpError(400, `${BAD}Could not retrieve JSON body.`);
      }
    }
  }

  const requested = method.parameters.filter((p) => injectedTypeName(p.cidl_type) === undefined);
  const present = (name) =>
    fromQuery ? url.searchParams.has(name) : Object.prototype.hasOwnProperty.call(body, name);
  if (!requested.every((p) => present(p.name))) {
    throw new HttpError(400, `${BAD}Missing parameters.`);
  }

  const values = new Map();
  for (const p of requested) {
    const raw = fromQuery
      ? typeTag(p.cidl_type) === "Array"
        ? url.searchParams.getAll(p.name)
        : url.searchParams.get(p.name)
      : body[p.name];
    const v = checkValue(raw, p.cidl_type, { cidl, ctors, fromQuery, allowMissing: false });
    if (v === INVALID) throw new HttpError(400, `${BAD}Invalid parameters.`);
    values.set(p.name, v);
  }
  return values;
}

function coerceId(id, pkType) {
  let t = pkType;
  while (typeTag(t) === "Nullable") t = t.Nullable;
  const tag = typeTag(t);
  if (tag === "Integer") {
    if (!/^[+-]?\d+$/.test(id)) throw new HttpError(404, "Record not found");
    return Number(id);
  }
  if (tag === "Real") {
    const n = Number(id);
    if (id.trim() === "" || !Number.isFinite(n)) throw new HttpError(404, "Record not found");
    return n;
  }
  return id;
}

async function hydrate(model, id, dataSource, cidl, ctors, db) {
  const pkName = model.primary_key.name;
  const key = coerceId(id, model.primary_key.cidl_type);
  const sql = dataSource
    ? `SELECT * FROM "${model.name}_${dataSource}" WHERE "${model.name}_${pkName}" = ?`
    : `SELECT * FROM "${model.name}" WHERE "${pkName}" = ?`;
  let rows;
  try {
    if (!db || typeof db.prepare !== "function") {
      throw new Error("the D1 binding is missing from the env");
    }
    const res = await db.prepare(sql).bind(key).all();
    rows = (res && res.results) || [];
  } catch (e) {
    throw new HttpError(
      500,
      `Error in hydration query, is the database out of sync with the backend?: ${errorText(e)}`,
    );
  }
  const tree = dataSource ? model.data_sources[dataSource].tree : {};
  const found = modelsFromSql(model.name, rows, tree, { cidl, constructorRegistry: ctors });
  if (found.length === 0) throw new HttpError(404, "Record not found");
  const inst = found[0];
  const Ctor = ctors[model.name];
  if (typeof Ctor === "function" && !(inst instanceof Ctor)) Object.setPrototypeOf(inst, Ctor.prototype);
  return inst;
}

function errorText(e) {
  if (e instanceof Error) return e.message;
  try {
    return typeof e === "string" ? e : JSON.stringify(e);
  } catch {
    return String(e);
  }
}

function isHttpResultValue(r) {
  return r !== null && typeof r === "object" && typeof r.ok === "boolean" && Number.isInteger(r.status);
}

/**
 * Handles one request: routing, validation, hydration, injection, dispatch.
 * Always resolves to a JSON Response carrying the documented envelope.
 */
export async function cloesce(request, cidl, constructorRegistry, instanceRegistry, config, apiRoute) {
  const ctors = constructorRegistry || {};
  const registry = instanceRegistry || new Map();
  registerModels(cidl, ctors);
  try {
    const { url, model, method, id } = route(request, cidl, apiRoute);

    const dataSource = url.searchParams.get("dataSource");
    if (dataSource !== null && !Object.prototype.hasOwnProperty.call(model.data_sources, dataSource)) {
      throw new HttpError(400, `${BAD}Unknown data source ${dataSource}`);
    }

    const values = await readParams(request, url, method, cidl, ctors);

    const Ctor = ctors[model.name];
    if (typeof Ctor !== "function") {
      throw new HttpError(500, `No constructor registered for model ${model.name}`);
    }

    let target = Ctor;
    if (!method.is_static) {
      const env = registry.get(config.envName);
      const db = env ? env[config.dbName] : undefined;
      target = await hydrate(model, id, dataSource, cidl, ctors, db);
    }

    const args = [];
    for (const p of method.parameters) {
      const inject = injectedTypeName(p.cidl_type);
      if (inject !== undefined) {
        if (!registry.has(inject)) {
          throw new HttpError(500, `No instance registered for injected type ${inject} (${model.name}.${method.name}.${p.name})`);
        }
        args.push(registry.get(inject));
      } else {
        args.push(values.get(p.name));
      }
    }

    const fn = target[method.name];
    if (typeof fn !== "function") {
      throw new HttpError(500, `${model.name}.${method.name} is not a function on the model class`);
    }

    let result;
    try {
      result = await fn.apply(target, args);
    } catch (e) {
      throw new HttpError(500, `Uncaught exception in method dispatch: ${errorText(e)}`);
    }

    if (typeof Response !== "undefined" && result instanceof Response) return result;

    if (isHttpResultType(method.return_type)) {
      if (!isHttpResultValue(result) || result.status < 200 || result.status > 599) {
        throw new HttpError(500, `${model.name}.${method.name} did not return an HttpResult`);
      }
      return respond(result);
    }
    if (typeTag(method.return_type) === "Void" || result === undefined) {
      return respond({ ok: true, status: 200 });
    }
    return respond({ ok: true, status: 200, data: result });
  } catch (e) {
    if (e instanceof HttpError) return fail(e.status, e.message, e.headers);
    return fail(500, `Internal error: ${errorText(e)}`);
  }
}

// ---------------------------------------------------------------------------
// The generated client's side (client.ts, docs/runtime.md "The generated
// client"): where requests go, how parameters are sent, and how answers become
// what the model declares (instances at every depth, booleans, Dates). The
// wire format is the HTTP API's above; nothing here changes it.
// ---------------------------------------------------------------------------

/** A mistake in the calling code, found before any request is sent. */
export class CloesceClientError extends Error {
  constructor(message) {
    super(message);
    this.name = "CloesceClientError";
  }
}

let globalClientOptions = {};

function checkClientOptions(options, where) {
  if (options === null || typeof options !== "object") {
    throw new CloesceClientError(`${where}: expected an options object { baseUrl?, fetch? }`);
  }
  const { baseUrl, fetch } = options;
  if (baseUrl !== undefined && typeof baseUrl !== "string" && !(baseUrl instanceof URL)) {
    throw new CloesceClientError(`${where}: baseUrl must be a string or a URL, e.g. "/api" or "https://api.example.com/api"`);
  }
  if (fetch !== undefined && typeof fetch !== "function") {
    throw new CloesceClientError(`${where}: fetch must be a function with the signature of fetch(input, init)`);
  }
  return { baseUrl, fetch };
}

/**
 * Sets the base URL and/or fetch of every generated client that has none of
 * its own (createClient). Replaces the previous global setting; `{}` resets it.
 */
export function configureClient(options) {
  globalClientOptions = checkClientOptions(options, "configureClient");
}

// Model class → the client description it belongs to (the generated classes,
// and the subclasses bind() makes).
const clientOfClass = new WeakMap();

function clientOf(self) {
  let ctor = typeof self === "function" ? self : self && self.constructor;
  while (typeof ctor === "function") {
    const client = clientOfClass.get(ctor);
    if (client) return client;
    ctor = Object.getPrototypeOf(ctor);
  }
  return undefined;
}

function booleanFromWire(v) {
  return typeof v === "number" ? v !== 0 : v;
}

function dateFromWire(v) {
  return typeof v === "string" || typeof v === "number" ? new Date(v) : v;
}

function scalarFromWire(v, declaredAs) {
  if (declaredAs === "Boolean") return booleanFromWire(v);
  if (declaredAs === "Date") return dateFromWire(v);
  return v;
}

function queryValue(v) {
  return v instanceof Date ? v.toISOString() : String(v);
}

/** The request URL of one call: `<base>/<Model>[/<key>]/<method>[?dataSource=…&params]`. */
function requestUrl(client, self, spec) {
  let path = `/${spec.model}`;
  if (spec.instance) {
    const keyName = client.shapes[spec.model].key;
    const key = self[keyName];
    if (key === undefined || key === null) {
      throw new CloesceClientError(
        `${spec.model}.${spec.method}() needs the primary key ${spec.model}.${keyName}, which is ${key}: ` +
          `call it on an instance from a result, or on ${spec.model}.ref(${keyName})`,
      );
    }
    path += `/${encodeURIComponent(String(key))}`;
  }
  path += `/${spec.method}`;
  const query = new URLSearchParams();
  if (spec.dataSource !== null && spec.dataSource !== undefined) query.append("dataSource", spec.dataSource);
  if (spec.verb === "GET") {
    for (const [name, v] of Object.entries(spec.params)) query.append(name, queryValue(v));
  }
  const qs = query.toString();
  return `${client.baseUrl()}${path}${qs ? `?${qs}` : ""}`;
}

class ModelClient {
  constructor(classes, shapes, defaultBaseUrl, options) {
    this.classes = classes;
    this.shapes = shapes;
    this.defaultBaseUrl = defaultBaseUrl;
    this.options = options;
  }

  baseUrl() {
    const base = this.options.baseUrl ?? globalClientOptions.baseUrl ?? this.defaultBaseUrl;
    return String(base).replace(/\/+$/, "");
  }

  fetcher() {
    const f = this.options.fetch ?? globalClientOptions.fetch ?? globalThis.fetch;
    if (typeof f !== "function") {
      throw new CloesceClientError("no fetch: pass { fetch } to createClient() or configureClient()");
    }
    return f;
  }

  /** The same models, as subclasses that use these options (and hydrate into each other). */
  bind(options) {
    const classes = {};
    const bound = new ModelClient(classes, this.shapes, this.defaultBaseUrl, checkClientOptions(options, "createClient"));
    for (const [name, Base] of Object.entries(this.classes)) {
      const Bound = { [name]: class extends Base {} }[name];
      classes[name] = Bound;
      clientOfClass.set(Bound, bound);
    }
    return { ...classes };
  }

  /** A wire value (JSON) → what the model declares, at every depth. */
  fromWire(v, returns) {
    if (v === null || v === undefined) return v;
    if (Array.isArray(v)) return v.map((x) => this.fromWire(x, returns));
    if (returns.as !== undefined) return scalarFromWire(v, returns.as);
    return this.instance(v, returns.model);
  }

  instance(data, modelName) {
    const shape = this.shapes[modelName];
    const Ctor = this.classes[modelName];
    if (!shape || typeof Ctor !== "function" || typeof data !== "object") return data;
    const inst = assignSafe(new Ctor(), data);
    for (const [field, declaredAs] of Object.entries(shape.fields)) {
      if (Object.prototype.hasOwnProperty.call(data, field)) inst[field] = scalarFromWire(inst[field], declaredAs);
    }
    for (const [nav, target] of Object.entries(shape.relations)) {
      if (inst[nav] !== null && inst[nav] !== undefined) inst[nav] = this.fromWire(inst[nav], { model: target });
    }
    return inst;
  }

  /** A model parameter's data → its wire shape: declared booleans as 0/1, at every depth. */
  toWire(v, modelName) {
    if (v === null || typeof v !== "object" || v instanceof Date) return v;
    if (Array.isArray(v)) return v.map((x) => this.toWire(x, modelName));
    const shape = this.shapes[modelName];
    if (!shape) return v;
    const out = Object.create(null);
    for (const key of Object.keys(v)) {
      let x = v[key];
      if (shape.fields[key] === "Boolean" && typeof x === "boolean") x = x ? 1 : 0;
      else if (Object.prototype.hasOwnProperty.call(shape.relations, key)) x = this.toWire(x, shape.relations[key]);
      out[key] = x;
    }
    return out;
  }

  /** Calls one API method for a generated class (`self` is the class or the instance). */
  async call(self, spec) {
    const client = clientOf(self) || this;
    const url = requestUrl(client, self, spec);
    const init = { method: spec.verb };
    if (spec.verb !== "GET") {
      const body = {};
      for (const [name, v] of Object.entries(spec.params)) {
        const model = spec.models && spec.models[name];
        body[name] = model ? client.toWire(v, model) : v;
      }
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const res = await client.fetcher()(url, init);
    const text = await res.text();
    let raw;
    try {
      raw = JSON.parse(text);
    } catch {
      return { ok: false, status: res.status, message: `${spec.verb} ${url}: the answer is not JSON (HTTP ${res.status}): ${text.slice(0, 200)}` };
    }
    if (!raw || !raw.ok) return raw;
    if (raw.data !== null && raw.data !== undefined && spec.returns) raw.data = client.fromWire(raw.data, spec.returns);
    return raw;
  }
}

/**
 * Used by the generated client.ts: the models (classes keyed by name), what
 * the client needs to know of each (`{ key, fields, relations }`), and the
 * build-time base URL (the `domain` setting).
 */
export function defineClient(classes, shapes, defaultBaseUrl) {
  const client = new ModelClient(classes, shapes, defaultBaseUrl, {});
  for (const Ctor of Object.values(classes)) clientOfClass.set(Ctor, client);
  return client;
}
