//! Splitting a file's text into documents: a JSON file is one document, a YAML stream
//! is split on `---` lines, and only documents with content are numbered, as trivy
//! numbers them, so that `document` indices line up with trivy's reports.

use std::sync::Arc;

use crate::InputError;

/// One document of a file, split but not yet parsed. Documents share their file's text.
#[derive(Debug, Clone)]
pub struct RawDoc {
    pub file: Arc<str>,
    pub index: usize,
    /// 1-based line where the document's content starts.
    pub line: usize,
    // An Arc of the String itself: `Arc<str>` would copy a 60 MB dump once more.
    text: Arc<String>,
    range: std::ops::Range<usize>,
    pub(crate) json: bool,
}

impl RawDoc {
    pub fn text(&self) -> &str {
        &self.text[self.range.clone()]
    }
}

/// Splits the bytes of one file into documents (see [`crate::read_file`]).
pub fn split_bytes(file: &str, bytes: Vec<u8>, json: bool) -> Result<Vec<RawDoc>, InputError> {
    let text = String::from_utf8(bytes).map_err(|e| InputError {
        file: file.to_string(),
        document: None,
        message: format!(
            "not UTF-8 text (invalid byte at offset {}); is this a binary file?",
            e.utf8_error().valid_up_to()
        ),
    })?;
    let file: Arc<str> = Arc::from(file);
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let text = Arc::new(text);
    if json {
        return Ok(vec![RawDoc {
            file,
            index: 0,
            line: 1,
            range: bom..text.len(),
            text,
            json,
        }]);
    }
    let base = text.as_ptr() as usize;
    let docs = split_documents(&text[bom..])
        .into_iter()
        .map(|d| {
            let start = d.text.as_ptr() as usize - base;
            RawDoc {
                file: file.clone(),
                index: d.index,
                line: d.line,
                range: start..start + d.text.len(),
                text: text.clone(),
                json: false,
            }
        })
        .collect();
    Ok(docs)
}

/// One `---`-separated part of a YAML stream.
pub struct DocText<'a> {
    pub index: usize,
    /// 1-based line of the document's first line.
    pub line: usize,
    pub text: &'a str,
}

fn newlines(text: &str) -> usize {
    memchr::memchr_iter(b'\n', text.as_bytes()).count()
}

fn is_separator(line: &str) -> bool {
    let l = line.trim_end_matches(['\r', '\n']);
    l == "---" || l.starts_with("--- ") || l.starts_with("---\t")
}

fn has_content(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "..." && !t.starts_with('%')
    })
}

/// Splits a YAML stream on `---` lines. Only documents with content (not blank or
/// comments only) are numbered.
pub fn split_documents(text: &str) -> Vec<DocText<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut index = 0usize;
    // Lines are only looked at where one starts with `---`: a substring search instead of
    // a walk over every line (the stream is split before anything runs in parallel).
    let mut counted = 0usize;
    let mut line_no = 1usize;
    let candidates = std::iter::once(0)
        .filter(|_| text.starts_with("---"))
        .chain(memchr::memmem::find_iter(text.as_bytes(), b"\n---").map(|i| i + 1));
    for pos in candidates {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
        let line = &text[pos..end];
        if !is_separator(line) {
            continue;
        }
        line_no += newlines(&text[counted..pos]);
        counted = pos;
        let chunk = &text[start..pos];
        if has_content(chunk) {
            docs.push(DocText {
                index,
                line: start_line,
                text: chunk,
            });
            index += 1;
        }
        start = if content_follows(line) { pos + 3 } else { end };
        start_line = if start == pos + 3 {
            line_no
        } else {
            line_no + 1
        };
    }
    let chunk = &text[start..];
    if has_content(chunk) {
        docs.push(DocText {
            index,
            line: start_line,
            text: chunk,
        });
    }
    for d in &mut docs {
        d.line += first_content_line(d.text);
    }
    docs
}

/// Whether a separator line carries content after `---` (`--- {a: 1}`), which belongs
/// to the next document.
fn content_follows(separator: &str) -> bool {
    let after = separator
        .trim_end_matches(['\r', '\n'])
        .strip_prefix("---")
        .unwrap_or("");
    !(after.trim().is_empty() || after.trim_start().starts_with('#'))
}

/// Lines before a document's first content line (a leading comment is not where the
/// document is reported).
fn first_content_line(text: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(t: &str) -> Vec<(usize, usize)> {
        split_documents(t)
            .iter()
            .filter(|d| has_content(d.text))
            .map(|d| (d.index, d.line))
            .collect()
    }

    /// The line-by-line walk `split_documents` replaced: the oracle for its search (what
    /// a separator line means is shared).
    fn split_line_by_line(text: &str) -> Vec<(usize, usize, &str)> {
        let mut docs = Vec::new();
        let (mut start, mut start_line, mut pos, mut index) = (0, 1, 0, 0);
        for (line_no, line) in (1usize..).zip(text.split_inclusive('\n')) {
            if is_separator(line) {
                let chunk = &text[start..pos];
                if has_content(chunk) {
                    docs.push((index, start_line, chunk));
                    index += 1;
                }
                start = if content_follows(line) {
                    pos + 3
                } else {
                    pos + line.len()
                };
                start_line = if start == pos + 3 {
                    line_no
                } else {
                    line_no + 1
                };
            }
            pos += line.len();
        }
        if has_content(&text[start..]) {
            docs.push((index, start_line, &text[start..]));
        }
        for d in &mut docs {
            d.1 += first_content_line(d.2);
        }
        docs
    }

    #[test]
    fn the_splitter_finds_what_a_line_by_line_walk_finds() {
        let pieces = [
            "---", "--- ", "---\t", "--- # c", "--- a: 1", "--- |", "----", "---x", " ---", "a: 1",
            "b: |", "  ---", "# c", "", "...", "\r", "k: v\r", "- x",
        ];
        let mut seed = 0x9E37_79B9u64;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
                if !seed.is_multiple_of(5) {
                    text.push('\n');
                }
            }
            seed = seed.wrapping_add(1);
            let ours: Vec<_> = split_documents(&text)
                .iter()
                .map(|d| (d.index, d.line, d.text))
                .collect();
            assert_eq!(ours, split_line_by_line(&text), "{text:?}");
        }
    }

    #[test]
    fn leading_separator_does_not_make_a_document() {
        assert_eq!(docs("---\na: 1\n---\nb: 2\n"), vec![(0, 2), (1, 4)]);
        assert_eq!(docs("# c\n---\na: 1\n"), vec![(0, 3)]);
        assert_eq!(
            docs("a: 1\n---\n# only a comment\n---\nb: 1\n"),
            vec![(0, 1), (1, 5)]
        );
        assert_eq!(docs("a: 1\r\n---\r\nb: 1\r\n"), vec![(0, 1), (1, 3)]);
    }
}
