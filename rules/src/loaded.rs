//! The last IR that loaded cleanly, shared by the built-ins of one process.
//!
//! In one build `validate`, `d1`, `workers` and `client` all read the same
//! `cidl.json`; on a 300-model project, parsing and checking its 1.4 MB four
//! times was a third of an edit's instructions. Loading is a pure function of
//! the file's bytes, so the last successful load is kept together with the
//! exact bytes it came from and handed out again only for byte-identical
//! input: a hit is exactly what parsing and checking again would give (the
//! comparison is of the bytes themselves, not of a digest). `extract` offers
//! the IR it just wrote, which is what reading those bytes back gives (see
//! [`remember`]). Failures are never kept: their diagnostics are rebuilt each
//! time. One entry only, so memory stays at one IR whatever the project.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::ir::CloesceAst;

/// A clean IR and the bytes it was read from (or written as).
struct Entry {
    bytes: Vec<u8>,
    ast: Arc<CloesceAst>,
}

/// A one-entry memo of clean loads.
struct Memo(Mutex<Option<Entry>>);

/// The process's memo, used by the built-ins.
static LAST: Memo = Memo::new();

impl Memo {
    const fn new() -> Self {
        Memo(Mutex::new(None))
    }

    /// A panic in another holder cannot leave a half-written entry (entries
    /// are replaced whole), so a poisoned lock is still usable.
    fn entry(&self) -> MutexGuard<'_, Option<Entry>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get_or_load<E>(
        &self,
        bytes: &[u8],
        load: impl FnOnce(&[u8]) -> Result<CloesceAst, E>,
    ) -> Result<Arc<CloesceAst>, E> {
        let mut last = self.entry();
        if let Some(entry) = last.as_ref().filter(|e| e.bytes == bytes) {
            return Ok(entry.ast.clone());
        }
        let ast = Arc::new(load(bytes)?);
        *last = Some(Entry {
            bytes: bytes.to_vec(),
            ast: ast.clone(),
        });
        Ok(ast)
    }

    fn remember(&self, bytes: &[u8], ast: CloesceAst) {
        debug_assert_eq!(
            crate::ir::from_json(bytes).as_ref(),
            Ok(&ast),
            "to_json then from_json must give the IR back"
        );
        *self.entry() = Some(Entry {
            bytes: bytes.to_vec(),
            ast: Arc::new(ast),
        });
    }
}

/// The IR for `bytes`: the remembered one when `bytes` are the very bytes it
/// came from, else `load(bytes)`, remembered when it succeeds. The lock is held
/// while loading, so rules reading the same file at once parse it once.
pub fn get_or_load<E>(
    bytes: &[u8],
    load: impl FnOnce(&[u8]) -> Result<CloesceAst, E>,
) -> Result<Arc<CloesceAst>, E> {
    LAST.get_or_load(bytes, load)
}

/// Remembers `ast` as the clean load of `bytes`. Only for an IR that passed
/// [`crate::validate::check`] and whose `bytes` are [`crate::ir::to_json`] of
/// it: reading those bytes back gives an equal IR (checked in debug builds,
/// so by every test that extracts).
pub fn remember(bytes: &[u8], ast: CloesceAst) {
    LAST.remember(bytes, ast)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ir(name: &str) -> (Vec<u8>, CloesceAst) {
        let text = format!(
            r#"{{"version":"v0.0.2","project_name":"{name}","language":"TypeScript",
                "wrangler_env":{{"name":"Env","source_path":"env.ts"}},"models":{{}}}}"#
        );
        let ast = crate::ir::from_json(text.as_bytes()).unwrap();
        (text.into_bytes(), ast)
    }

    #[test]
    fn a_hit_needs_the_same_bytes() {
        let memo = Memo::new();
        let (a, ast_a) = ir("a");
        let (b, ast_b) = ir("b");
        let loads = std::cell::Cell::new(0);
        let load = |bytes: &[u8]| -> Result<CloesceAst, String> {
            loads.set(loads.get() + 1);
            crate::ir::from_json(bytes)
        };
        assert_eq!(*memo.get_or_load(&a, load).unwrap(), ast_a);
        assert_eq!(*memo.get_or_load(&a, load).unwrap(), ast_a);
        assert_eq!(loads.get(), 1, "the same bytes again are a hit");
        assert_eq!(*memo.get_or_load(&b, load).unwrap(), ast_b);
        assert_eq!(loads.get(), 2, "other bytes of the same length are loaded");
        assert_eq!(*memo.get_or_load(&a, load).unwrap(), ast_a);
        assert_eq!(loads.get(), 3, "only the last load is kept");
    }

    #[test]
    fn failures_are_not_remembered() {
        let memo = Memo::new();
        let (a, ast_a) = ir("fails-once");
        let mut calls = 0;
        let mut load = |bytes: &[u8]| -> Result<CloesceAst, String> {
            calls += 1;
            if calls == 1 {
                Err("first load fails".into())
            } else {
                crate::ir::from_json(bytes)
            }
        };
        assert!(memo.get_or_load(&a, &mut load).is_err());
        assert_eq!(*memo.get_or_load(&a, &mut load).unwrap(), ast_a);
        assert_eq!(calls, 2);
    }

    #[test]
    fn a_remembered_ir_is_handed_out_for_its_bytes() {
        let memo = Memo::new();
        let (_, ast) = ir("remembered");
        let bytes = crate::ir::to_json(&ast);
        memo.remember(&bytes, ast.clone());
        let got = memo.get_or_load(&bytes, |_| -> Result<CloesceAst, ()> {
            panic!("must not load")
        });
        assert_eq!(*got.unwrap(), ast);
    }
}
