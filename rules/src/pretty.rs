//! The JSON formatter `cidl.json` is written with: exactly serde_json's
//! `PrettyFormatter` with a four-space indent, but each line break and its
//! indentation go out in one write instead of one write per level. The IR
//! of a large project is megabytes of deeply nested JSON, and indenting
//! level by level was a good part of writing it.

use std::io;

use serde_json::ser::Formatter;

/// A `PrettyFormatter::with_indent(b"    ")` that writes the same bytes.
#[derive(Default)]
pub struct Pretty {
    depth: usize,
    has_value: bool,
    /// `,\n` and then spaces: a line break with its indentation is a slice.
    line: Vec<u8>,
}

impl Pretty {
    /// Writes `,\n` (or `\n` for the `first` entry) and the indentation of
    /// the current depth.
    fn new_line<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        let end = 2 + 4 * self.depth;
        if self.line.len() < end {
            self.line.clear();
            self.line.extend_from_slice(b",\n");
            self.line.resize(end.max(64), b' ');
        }
        writer.write_all(&self.line[usize::from(first)..end])
    }

    /// `[` or `{`: one level deeper, nothing in it yet.
    fn open<W: ?Sized + io::Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    /// `]` or `}`, on a line of its own unless the value was empty.
    fn close<W: ?Sized + io::Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.new_line(writer, true)?;
        }
        writer.write_all(bracket)
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;

    /// The bytes serde_json's own pretty printer writes with four spaces.
    fn reference(value: &serde_json::Value) -> Vec<u8> {
        let mut out = Vec::new();
        let f = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        value
            .serialize(&mut serde_json::Serializer::with_formatter(&mut out, f))
            .unwrap();
        out
    }

    #[test]
    fn it_writes_what_serde_jsons_pretty_printer_writes() {
        let mut deep = json!({"leaf": [1, {"x": "y\n\"z\""}]});
        for i in 0..30 {
            deep = json!({ format!("k{i}"): [deep, [], {}, null, i, "s"] });
        }
        for value in [
            json!(null),
            json!([]),
            json!({}),
            json!([[]]),
            json!({"a": {}}),
            deep,
        ] {
            let mut out = Vec::new();
            value
                .serialize(&mut serde_json::Serializer::with_formatter(
                    &mut out,
                    Pretty::default(),
                ))
                .unwrap();
            assert_eq!(out, reference(&value), "{value}");
        }
    }
}
