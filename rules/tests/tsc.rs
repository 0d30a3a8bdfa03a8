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
  | ({ ok: true; status: number } & (undefined extends T ? { data?: T } : { data: T }))
  | { ok: false; status: number; message: string };
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

#[test]
fn generated_typescript_type_checks() {
    let Some(deps) = std::env::var_os("CLOESCE_TSC_DIR").map(PathBuf::from) else {
        eprintln!(
            "\n!!!!! SKIPPED: set CLOESCE_TSC_DIR to type-check the generated TypeScript !!!!!\n"
        );
        return;
    };
    for name in ["small", "big"] {
        let root =
            std::env::temp_dir().join(format!("cloesce-rules-tsc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, bytes) in fixture(name) {
            write(&root, &path, &bytes);
        }
        for (path, text) in build(name) {
            write(&root, &path, text.as_bytes());
        }
        write(&root, "tsconfig.json", TSCONFIG.as_bytes());
        write(&root, "node_modules/cloesce/index.d.ts", STUB.as_bytes());
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
        let out = Command::new(deps.join("node_modules/.bin/tsc"))
            .arg("-p")
            .arg(&root)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: tsc failed:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
