//! A scanner for the block-style YAML that Kubernetes manifests are written in, giving
//! the same events granit-parser gives for them, several times faster.
//!
//! granit-parser is a complete YAML 1.2 scanner; most of its time on a manifest goes to
//! machinery that manifests never exercise (a token queue with simple-key bookkeeping,
//! flow contexts, multi-line folding). This scanner reads a document line by line and
//! knows only the shapes `kubectl`, `helm template` and hand-written manifests use:
//! block mappings and sequences (including `- key: value` and sequences at their key's
//! indentation), one-line plain and quoted scalars, literal block scalars (`|`, `|-`),
//! one-line flow sequences of scalars and empty flow collections, and comments.
//!
//! Anything else — tabs, carriage returns, non-ASCII text, anchors, aliases, tags,
//! folded or multi-line scalars, flow mappings, explicit keys, document markers,
//! directives, anything that would be a syntax error — is [`Unsupported`], and the
//! caller hands the document to granit-parser. So a document this scanner accepts gets
//! exactly granit's events (tests and the fuzzer compare the two event streams), and
//! every other document is read as before.

use std::borrow::Cow;

use granit_parser::{Event, ScalarStyle, StructureStyle};

/// The document leaves the subset this scanner knows.
#[derive(Debug)]
pub(crate) struct Unsupported;

type Scan<T = ()> = Result<T, Unsupported>;

/// Longest implicit key YAML allows.
const MAX_KEY: usize = 1024;

/// granit-parser's default block nesting limit (`Options::block_nesting_limit`).
const GRANIT_NESTING_LIMIT: usize = 255;

/// The events of one document (the text between two `---` lines), or [`Unsupported`].
/// `max_depth` bounds the nesting this scanner follows (deeper documents go to the
/// parser that reports them).
pub(crate) fn events(text: &str, max_depth: usize) -> Scan<Vec<Event<'_>>> {
    // Printable ASCII and newlines only: no tab or CR subtleties, no non-printable or
    // BOM characters to reject.
    if !text
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) || b == b'\n')
    {
        return Err(Unsupported);
    }
    let lines: Vec<&str> = text.split('\n').collect();
    // Document markers and directives belong to the full parser.
    if lines
        .iter()
        .any(|l| l.starts_with("---") || l.starts_with("...") || l.starts_with('%'))
    {
        return Err(Unsupported);
    }
    let mut s = Scanner {
        lines,
        line: 0,
        events: Vec::with_capacity(text.len() / 8),
        depth: 0,
        // granit-parser refuses nesting beyond 255 levels whatever the caller's limit.
        max_depth: max_depth.min(GRANIT_NESTING_LIMIT - 1),
    };
    s.events.push(Event::StreamStart);
    s.events.push(Event::DocumentStart(false, None));
    s.skip_blank();
    let Some(first) = s.lines.get(s.line) else {
        return Err(Unsupported);
    };
    let col = indent(first);
    let at = s.line;
    if is_entry(first, col) {
        s.sequence(at, col)?;
    } else if let Some(first_key) = key(first, col)? {
        s.mapping(at, col, first_key)?;
    } else {
        // A root scalar is no manifest.
        return Err(Unsupported);
    }
    s.skip_blank();
    if s.line < s.lines.len() {
        return Err(Unsupported);
    }
    s.events.push(Event::DocumentEnd);
    s.events.push(Event::StreamEnd);
    Ok(s.events)
}

struct Scanner<'a> {
    lines: Vec<&'a str>,
    /// The line being looked at.
    line: usize,
    events: Vec<Event<'a>>,
    depth: usize,
    max_depth: usize,
}

fn indent(line: &str) -> usize {
    line.bytes().take_while(|&b| b == b' ').count()
}

/// Blank lines and comment lines carry nothing.
fn is_blank(line: &str) -> bool {
    let rest = &line[indent(line)..];
    rest.is_empty() || rest.starts_with('#')
}

/// Whether the text at `col` is a block sequence entry (`-` then space or end of line).
fn is_entry(line: &str, col: usize) -> bool {
    let b = line.as_bytes();
    b.get(col) == Some(&b'-') && matches!(b.get(col + 1), None | Some(b' '))
}

/// After a value at byte `at`: only spaces and a comment may follow.
fn rest_is_empty(line: &str, at: usize) -> bool {
    let rest = &line[at..];
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

/// First byte after the spaces from `at`.
fn skip_spaces(line: &str, at: usize) -> usize {
    at + line[at..].bytes().take_while(|&b| b == b' ').count()
}

/// If the text at `col` is `key:` followed by a space or the end of the line: the key's
/// event and the byte just after the colon. Ok(None): not a key. A key this scanner does
/// not know (quoted key with odd spacing, flow indicators, an overlong key) is
/// [`Unsupported`].
fn key(line: &str, col: usize) -> Scan<Option<(Event<'_>, usize)>> {
    let b = line.as_bytes();
    let colon_at = |i: usize| b.get(i) == Some(&b':') && matches!(b.get(i + 1), None | Some(b' '));
    if let Some((event, end)) = quoted(line, col)? {
        return if colon_at(end) && end - col <= MAX_KEY {
            Ok(Some((event, end + 1)))
        } else if !colon_at(end) && rest_is_empty(line, end) {
            Ok(None)
        } else {
            Err(Unsupported)
        };
    }
    let mut i = col;
    while i < b.len() {
        if b[i] == b'#' && i > col && b[i - 1] == b' ' {
            return Ok(None);
        }
        if colon_at(i) {
            let text = &line[col..i];
            if i == col
                || i - col > MAX_KEY
                || text.ends_with(' ')
                || text
                    .bytes()
                    .any(|c| matches!(c, b'[' | b']' | b'{' | b'}' | b','))
            {
                return Err(Unsupported);
            }
            plain_start(text)?;
            return Ok(Some((
                scalar(Cow::Borrowed(text), ScalarStyle::Plain),
                i + 1,
            )));
        }
        i += 1;
    }
    Ok(None)
}

/// A quoted scalar at `at`, ending on the same line: its event and the byte after the
/// closing quote. Ok(None): no quote at `at`.
fn quoted(line: &str, at: usize) -> Scan<Option<(Event<'_>, usize)>> {
    let ((value, end), style) = match line.as_bytes().get(at) {
        Some(b'"') => (double_quoted(line, at)?, ScalarStyle::DoubleQuoted),
        Some(b'\'') => (single_quoted(line, at)?, ScalarStyle::SingleQuoted),
        _ => return Ok(None),
    };
    Ok(Some((scalar(value, style), end)))
}

/// A plain scalar may not start with an indicator; this scanner also leaves `?` and
/// `:` starts to the parser.
fn plain_start(text: &str) -> Scan {
    let b = text.as_bytes();
    match b.first() {
        None => Err(Unsupported),
        Some(b'-') if matches!(b.get(1), None | Some(b' ')) => Err(Unsupported),
        Some(
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`',
        ) => Err(Unsupported),
        _ => Ok(()),
    }
}

/// A single-quoted scalar starting at `at` and ending on the same line: its value and
/// the byte after the closing quote.
fn single_quoted(line: &str, at: usize) -> Scan<(Cow<'_, str>, usize)> {
    let b = line.as_bytes();
    let mut i = at + 1;
    let mut escaped = false;
    loop {
        match b.get(i) {
            None => return Err(Unsupported),
            Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                escaped = true;
                i += 2;
            }
            Some(b'\'') => break,
            Some(_) => i += 1,
        }
    }
    let raw = &line[at + 1..i];
    let value = if escaped {
        Cow::Owned(raw.replace("''", "'"))
    } else {
        Cow::Borrowed(raw)
    };
    Ok((value, i + 1))
}

/// A double-quoted scalar starting at `at` and ending on the same line.
fn double_quoted(line: &str, at: usize) -> Scan<(Cow<'_, str>, usize)> {
    let b = line.as_bytes();
    let start = at + 1;
    let mut i = start;
    let mut owned: Option<String> = None;
    let mut copied = start;
    loop {
        match b.get(i) {
            None => return Err(Unsupported),
            Some(b'"') => break,
            Some(b'\\') => {
                let out = owned.get_or_insert_with(String::new);
                out.push_str(&line[copied..i]);
                let (c, len) = escape(&b[i + 1..])?;
                out.push(c);
                i += 1 + len;
                copied = i;
            }
            Some(_) => i += 1,
        }
    }
    let value = match owned {
        Some(mut out) => {
            out.push_str(&line[copied..i]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(&line[start..i]),
    };
    Ok((value, i + 1))
}

/// One escape after a backslash: the character and how many bytes it took.
fn escape(b: &[u8]) -> Scan<(char, usize)> {
    let hex = |n: usize| -> Scan<(char, usize)> {
        let digits = b.get(1..=n).ok_or(Unsupported)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(Unsupported);
        }
        let text = std::str::from_utf8(digits).map_err(|_| Unsupported)?;
        let code = u32::from_str_radix(text, 16).map_err(|_| Unsupported)?;
        Ok((char::from_u32(code).ok_or(Unsupported)?, n + 1))
    };
    let c = match b.first().ok_or(Unsupported)? {
        b'0' => '\0',
        b'a' => '\u{7}',
        b'b' => '\u{8}',
        b't' => '\t',
        b'n' => '\n',
        b'v' => '\u{b}',
        b'f' => '\u{c}',
        b'r' => '\r',
        b'e' => '\u{1b}',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' => return hex(2),
        b'u' => return hex(4),
        b'U' => return hex(8),
        _ => return Err(Unsupported),
    };
    Ok((c, 1))
}

fn scalar(text: Cow<'_, str>, style: ScalarStyle) -> Event<'_> {
    Event::Scalar(text, style, 0, None)
}

impl<'a> Scanner<'a> {
    fn skip_blank(&mut self) {
        while self.lines.get(self.line).is_some_and(|l| is_blank(l)) {
            self.line += 1;
        }
    }

    fn enter(&mut self) -> Scan {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Unsupported);
        }
        Ok(())
    }

    /// The node after `key:` or `-` with nothing else on its line: on the following
    /// lines, indented deeper than `parent`, or — as the value of a mapping key — a
    /// sequence at the key's own indentation. None of that: an empty (null) node.
    fn block_node(&mut self, parent: usize, in_mapping: bool) -> Scan {
        self.skip_blank();
        let Some(&line) = self.lines.get(self.line) else {
            self.events.push(scalar("~".into(), ScalarStyle::Plain));
            return Ok(());
        };
        let col = indent(line);
        if col > parent {
            let at = self.line;
            self.node_at(at, col, parent)
        } else if col == parent && in_mapping && is_entry(line, col) {
            let at = self.line;
            self.sequence(at, col)
        } else {
            self.events.push(scalar("~".into(), ScalarStyle::Plain));
            Ok(())
        }
    }

    /// A node whose text starts on line `at`, byte `col`, inside a parent block
    /// indented `parent`.
    fn node_at(&mut self, at: usize, col: usize, parent: usize) -> Scan {
        let line = self.lines[at];
        if is_entry(line, col) {
            self.sequence(at, col)
        } else if let Some(first_key) = key(line, col)? {
            self.mapping(at, col, first_key)
        } else {
            self.value(at, col, parent)
        }
    }

    /// A block sequence whose first `-` is on line `at`, byte `col`.
    fn sequence(&mut self, at: usize, col: usize) -> Scan {
        self.enter()?;
        self.events
            .push(Event::SequenceStart(StructureStyle::Block, 0, None));
        let mut at = at;
        loop {
            let line = self.lines[at];
            let content = skip_spaces(line, col + 1);
            if rest_is_empty(line, col + 1) {
                self.line = at + 1;
                self.block_node(col, false)?;
            } else {
                self.node_at(at, content, col)?;
            }
            self.skip_blank();
            match self.lines.get(self.line) {
                Some(next) if indent(next) == col && is_entry(next, col) => at = self.line,
                Some(next) if indent(next) > col => return Err(Unsupported),
                _ => break,
            }
        }
        self.events.push(Event::SequenceEnd);
        self.depth -= 1;
        Ok(())
    }

    /// A block mapping whose first key (already read) is on line `at`, byte `col`.
    fn mapping(&mut self, at: usize, col: usize, first_key: (Event<'a>, usize)) -> Scan {
        self.enter()?;
        self.events
            .push(Event::MappingStart(StructureStyle::Block, 0, None));
        let mut at = at;
        let mut entry = first_key;
        loop {
            let line = self.lines[at];
            let (key_event, after) = entry;
            self.events.push(key_event);
            if rest_is_empty(line, after) {
                self.line = at + 1;
                self.block_node(col, true)?;
            } else {
                let start = skip_spaces(line, after);
                self.value(at, start, col)?;
            }
            self.skip_blank();
            match self.lines.get(self.line) {
                Some(next) if indent(next) == col => {
                    at = self.line;
                    entry = key(next, col)?.ok_or(Unsupported)?;
                }
                Some(next) if indent(next) > col => return Err(Unsupported),
                _ => break,
            }
        }
        self.events.push(Event::MappingEnd);
        self.depth -= 1;
        Ok(())
    }

    /// A value that starts on line `at` at byte `start` (after `key: `, after `- `, or
    /// alone on its line), inside a parent block indented `parent`.
    fn value(&mut self, at: usize, start: usize, parent: usize) -> Scan {
        let line = self.lines[at];
        self.line = at + 1;
        let end = if let Some((event, end)) = quoted(line, start)? {
            self.events.push(event);
            end
        } else {
            match line.as_bytes()[start] {
                b'|' => return self.literal(line, start, parent),
                b'[' => self.flow_sequence(line, start)?,
                b'{' => {
                    let close = skip_spaces(line, start + 1);
                    if line.as_bytes().get(close) != Some(&b'}') {
                        return Err(Unsupported);
                    }
                    self.events
                        .push(Event::MappingStart(StructureStyle::Flow, 0, None));
                    self.events.push(Event::MappingEnd);
                    close + 1
                }
                _ => {
                    let text = plain_text(line, start);
                    plain_start(text)?;
                    if text.contains(": ") || text.ends_with(':') {
                        return Err(Unsupported);
                    }
                    self.events
                        .push(scalar(Cow::Borrowed(text), ScalarStyle::Plain));
                    line.len()
                }
            }
        };
        if !rest_is_empty(line, end) {
            return Err(Unsupported);
        }
        self.no_continuation(parent)
    }

    /// A deeper-indented line right after a one-line value would continue it (a
    /// multi-line scalar) or be an error: either way, the parser's business.
    fn no_continuation(&mut self, parent: usize) -> Scan {
        let mut i = self.line;
        while self
            .lines
            .get(i)
            .is_some_and(|l| l.bytes().all(|b| b == b' '))
        {
            i += 1;
        }
        match self.lines.get(i) {
            Some(next) if indent(next) > parent => Err(Unsupported),
            _ => Ok(()),
        }
    }

    /// `[a, "b", 'c']` on one line, of scalars only; returns the byte after `]`.
    fn flow_sequence(&mut self, line: &'a str, start: usize) -> Scan<usize> {
        let b = line.as_bytes();
        self.events
            .push(Event::SequenceStart(StructureStyle::Flow, 0, None));
        let mut i = skip_spaces(line, start + 1);
        if b.get(i) == Some(&b']') {
            self.events.push(Event::SequenceEnd);
            return Ok(i + 1);
        }
        loop {
            let end = if let Some((event, end)) = quoted(line, i)? {
                self.events.push(event);
                end
            } else {
                match b.get(i) {
                    Some(_) => {
                        let len = line[i..]
                            .bytes()
                            .take_while(|&c| c != b',' && c != b']')
                            .count();
                        let text = line[i..i + len].trim_end_matches(' ');
                        plain_start(text)?;
                        if text
                            .bytes()
                            .any(|c| matches!(c, b':' | b'#' | b'[' | b'{' | b'}'))
                        {
                            return Err(Unsupported);
                        }
                        self.events
                            .push(scalar(Cow::Borrowed(text), ScalarStyle::Plain));
                        i + len
                    }
                    None => return Err(Unsupported),
                }
            };
            let next = skip_spaces(line, end);
            match b.get(next) {
                Some(b',') => {
                    i = skip_spaces(line, next + 1);
                    // A trailing comma, or an empty entry: the parser's business.
                    if matches!(b.get(i), None | Some(b']') | Some(b',')) {
                        return Err(Unsupported);
                    }
                }
                Some(b']') => {
                    self.events.push(Event::SequenceEnd);
                    return Ok(next + 1);
                }
                _ => return Err(Unsupported),
            }
        }
    }

    /// A literal block scalar (`|` or `|-`) whose header is at `start` on `line`, for a
    /// node inside a parent block indented `parent`.
    fn literal(&mut self, line: &'a str, start: usize, parent: usize) -> Scan {
        let b = line.as_bytes();
        let (strip, header_end) = match b.get(start + 1) {
            Some(b'-') => (true, start + 2),
            None | Some(b' ') => (false, start + 1),
            // Keep chomping, explicit indentation, folded text: the parser's business.
            _ => return Err(Unsupported),
        };
        if !rest_is_empty(line, header_end) {
            return Err(Unsupported);
        }
        let first = self.line;
        let mut i = first;
        let mut leading_spaces = 0;
        while let Some(l) = self.lines.get(i) {
            if !l.bytes().all(|c| c == b' ') {
                break;
            }
            leading_spaces = leading_spaces.max(l.len());
            i += 1;
        }
        let Some(content_line) = self.lines.get(i) else {
            return Err(Unsupported);
        };
        let width = indent(content_line);
        // An empty scalar, or leading blank lines deeper than the text: rare and subtle.
        if width <= parent || leading_spaces > width {
            return Err(Unsupported);
        }
        let mut value = String::new();
        let mut pending_breaks = 0;
        let mut i = first;
        while let Some(&l) = self.lines.get(i) {
            if l.bytes().all(|c| c == b' ') {
                // Spaces beyond the indentation on a blank line would be content.
                if l.len() > width {
                    return Err(Unsupported);
                }
                pending_breaks += 1;
                i += 1;
                continue;
            }
            if indent(l) < width {
                break;
            }
            if !value.is_empty() || pending_breaks > 0 {
                for _ in 0..pending_breaks + usize::from(!value.is_empty()) {
                    value.push('\n');
                }
            }
            pending_breaks = 0;
            value.push_str(&l[width..]);
            i += 1;
        }
        if !strip {
            value.push('\n');
        }
        // The next line must end the parent block, not sit between it and the text.
        if let Some(&next) = self.lines.get(i) {
            if indent(next) > parent && !is_blank(next) {
                return Err(Unsupported);
            }
        }
        self.line = i;
        self.events
            .push(scalar(Cow::Owned(value), ScalarStyle::Literal));
        Ok(())
    }
}

/// A plain scalar's text from `start`: up to a comment or the end of the line, without
/// trailing spaces.
fn plain_text(line: &str, start: usize) -> &str {
    let b = line.as_bytes();
    let mut end = b.len();
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'#' && b[i - 1] == b' ' {
            end = i;
            break;
        }
        i += 1;
    }
    line[start..end].trim_end_matches(' ')
}
