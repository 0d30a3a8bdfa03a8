// The Worker's env: the D1 binding and a [vars] string from wrangler.toml.
import { WranglerEnv } from "cloesce";

@WranglerEnv
export class Env {
  db: D1Database;
  LIBRARY_MOTTO: string;
}
