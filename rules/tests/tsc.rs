//! Type-checks the generated `workers.ts` and `client.ts` with `tsc --strict`
//! against a stub `cloesce` package that has exactly the runtime contract of
//! docs/ir.md. Needs TypeScript and @cloudflare/workers-types: set
//! `CLOESCE_TSC_DIR` to a folder whose `node_modules` holds them (e.g. after
//! `npm install typescript @cloudflare/workers-types` there). Skipped, loudly,
//! otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{build, fixture};

const STUB: &str = r#"// The runtime contract the generated code relies on (docs/ir.md).
export type HttpResult<T> =
  | { ok: true; status: number; data: T }
  | { ok: false; status: number; message: string }
  | (undefined extends T ? { ok: true; status: number; data?: undefined } : never);
export type IncludeTree<T> = { [K in keyof T]?: unknown };
export interface ClientOptions {
  baseUrl?: string | URL;
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
}
export declare function defineClient<M extends { [name: string]: new () => object }>(
  classes: M,
  shapes: { [K in keyof M]: { key: string; fields: { [f: string]: "Boolean" | "Date" }; relations: { [n: string]: string } } },
  defaultBaseUrl: string,
): { call(self: object, spec: object): Promise<any>; bind(options: ClientOptions): M };
export declare function cloesce(
  request: Request,
  ast: unknown,
  constructorRegistry: Record<string, new () => unknown>,
  instanceRegistry: Map<string, unknown>,
  options: { envName: string; dbName: string },
  apiRoute: string,
): Promise<Response>;
type Deco = (...args: any[]) => any;
export declare const D1: Deco, WranglerEnv: Deco, PrimaryKey: Deco, DataSource: Deco, Inject: Deco;
export declare const GET: Deco, POST: Deco, PUT: Deco, PATCH: Deco, DELETE: Deco;
export declare function ForeignKey(model: unknown): Deco;
export declare function OneToOne(reference: string): Deco;
export declare function OneToMany(reference: string): Deco;
export declare function ManyToMany(uniqueId: string): Deco;
"#;

const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "es2022",
    "module": "es2022",
    "moduleResolution": "bundler",
    "resolveJsonModule": true,
    "experimentalDecorators": true,
    "skipLibCheck": true,
    "types": ["@cloudflare/workers-types"]
  },
  "include": [".generated/*.ts", "src/**/*.ts"]
}
"#;

fn write(root: &Path, rel: &str, text: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The folder with TypeScript and workers-types, or `None` (test skipped, loudly).
fn tsc_deps() -> Option<PathBuf> {
    let deps = std::env::var_os("CLOESCE_TSC_DIR").map(PathBuf::from);
    if deps.is_none() {
        eprintln!(
            "\n!!!!! SKIPPED: set CLOESCE_TSC_DIR to type-check the generated TypeScript !!!!!\n"
        );
    }
    deps
}

/// A temp project: the fixture `name`, its generated files, `tsconfig.json`
/// including `extra_include`, and `node_modules/cloesce` holding `runtime_dts`.
fn project(name: &str, tag: &str, deps: &Path, runtime_dts: &str, extra_include: &str) -> PathBuf {
    let root = std::env::temp_dir().join(format!(
        "cloesce-rules-tsc-{tag}-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&root);
    for (path, bytes) in fixture(name) {
        write(&root, &path, &bytes);
    }
    for (path, text) in build(name) {
        write(&root, &path, text.as_bytes());
    }
    let tsconfig = TSCONFIG.replace(
        r#""include": [".generated/*.ts", "src/**/*.ts"]"#,
        &format!(r#""include": [".generated/*.ts", "src/**/*.ts"{extra_include}]"#),
    );
    write(&root, "tsconfig.json", tsconfig.as_bytes());
    write(
        &root,
        "node_modules/cloesce/index.d.ts",
        runtime_dts.as_bytes(),
    );
    write(
        &root,
        "node_modules/cloesce/package.json",
        br#"{"name":"cloesce","types":"index.d.ts"}"#,
    );
    std::os::unix::fs::symlink(
        deps.join("node_modules/@cloudflare"),
        root.join("node_modules/@cloudflare"),
    )
    .unwrap();
    root
}

fn tsc(deps: &Path, root: &Path) -> (bool, String) {
    let out = Command::new(deps.join("node_modules/.bin/tsc"))
        .arg("-p")
        .arg(root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn generated_typescript_type_checks() {
    let Some(deps) = tsc_deps() else { return };
    for name in ["small", "big"] {
        let root = project(name, "stub", &deps, STUB, "");
        let (ok, out) = tsc(&deps, &root);
        assert!(ok, "{name}: tsc failed:\n{out}");
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// `typescript/client_types.ts` pins the client's result types and parameter
/// shapes against the real runtime types; its `@ts-expect-error` lines must
/// be errors. Without its expected errors' causes it would fail, which the
/// second half checks: a changed line is reported.
#[test]
fn client_types_pin_results_and_parameters() {
    let Some(deps) = tsc_deps() else { return };
    let runtime = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../npm-wrapper/package/runtime/index.d.ts"),
    )
    .unwrap();
    let types = include_str!("typescript/client_types.ts");
    let root = project("big", "types", &deps, &runtime, r#", "use/*.ts""#);
    write(&root, "use/client_types.ts", types.as_bytes());
    let (ok, out) = tsc(&deps, &root);
    assert!(ok, "tsc failed on typescript/client_types.ts:\n{out}");

    // An expected error that no longer happens is itself an error.
    let loosened = types.replace("isAdmin: 1 })", "isAdmin: true })");
    assert_ne!(loosened, types);
    write(&root, "use/client_types.ts", loosened.as_bytes());
    let (ok, out) = tsc(&deps, &root);
    assert!(
        !ok && out.contains("TS2578"),
        "an unused @ts-expect-error must fail:\n{out}"
    );
    let _ = std::fs::remove_dir_all(&root);
}
