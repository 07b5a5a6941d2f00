//! Command-line flags of control-plane containers, read the way trivy's CIS checks read
//! them (`lib.kubernetes` in trivy-checks).
//!
//! Those checks never rebuild an argument vector: they ask whether some *element* of a
//! container's `command`, or separately of its `args`, contains a flag, and take a
//! list-valued flag's value from inside one element. So `--flag value` split over two
//! elements is never seen as set, a flag in `args` does not pair with one in `command`,
//! and the last occurrence of a repeated flag does not win. A custom plugin that wants
//! trivy's verdicts uses these helpers; one that wants the component's real view parses
//! the joined vector itself.
//!
//! ```
//! use tollgate_kit::flags::{flag_value, has, ArgList};
//! use tollgate_kit::{Object, Tree};
//!
//! let pod = Tree::from_json(r#"{"kind":"Pod","metadata":{"name":"kube-apiserver"},"spec":{"containers":[{
//!     "name":"kube-apiserver",
//!     "command":["/usr/local/bin/kube-apiserver","--enable-admission-plugins=NodeRestriction"],
//!     "args":["--profiling","false"]}]}}"#).unwrap();
//! let object = Object::new(pod.root());
//! let c = &object.containers()[0];
//! assert!(c.is_component("kube-apiserver"));
//! assert!(!has(c.arg_list(ArgList::Args), "--profiling=false"));
//! let plugins = c.arg_strings(ArgList::Command)
//!     .find_map(|e| flag_value(e, "--enable-admission-plugins"));
//! assert_eq!(plugins, Some("NodeRestriction"));
//! ```

use crate::value::{elements, Elements};
use crate::Container;
use tollgate_tree::Node;

/// One of a container's two argument lists. trivy's checks read each on its own, and
/// some read `command` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgList {
    Command,
    Args,
}

impl ArgList {
    /// Both lists, `command` first.
    pub const BOTH: [ArgList; 2] = [ArgList::Command, ArgList::Args];
    /// `command` alone.
    pub const COMMAND: [ArgList; 1] = [ArgList::Command];

    /// The container field: `"command"` or `"args"`.
    pub fn field(self) -> &'static str {
        match self {
            ArgList::Command => "command",
            ArgList::Args => "args",
        }
    }
}

/// The string elements of a list, as Rego iterates `list[_]` (an array's items, a
/// mapping's values). Non-string elements are skipped: trivy's pattern builtins fail on
/// them, which in OPA's non-strict mode just means "no match".
pub fn strings(list: Option<Node<'_>>) -> Strings<'_> {
    Strings(elements(list))
}

/// Iterator of [`strings`].
#[derive(Clone)]
pub struct Strings<'a>(Elements<'a>);

impl<'a> Iterator for Strings<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.0.by_ref().find_map(|n| n.as_str())
    }
}

impl<'a> Container<'a> {
    /// `command` or `args`, whatever its value.
    pub fn arg_list(&self, list: ArgList) -> Option<Node<'a>> {
        self.get(list.field())
    }

    /// The string elements of `command` or `args` (see [`strings`]).
    pub fn arg_strings(&self, list: ArgList) -> Strings<'a> {
        strings(self.arg_list(list))
    }

    /// Whether the container runs component `name` (see [`is_component`]).
    pub fn is_component(&self, name: &str) -> bool {
        is_component(self, name)
    }
}

/// Whether the container runs component `name` (`kube-apiserver`, `etcd`, ...) as trivy
/// decides it: the first element of `command` is exactly `name` or a path ending in
/// `/name` (the RE2 pattern `^(.*/)?name$`). Labels, image, container name and `args` do
/// not count, nor does a shell wrapper, so a static Pod that starts its server through
/// `sh -c` is not judged at all.
pub fn is_component(c: &Container, name: &str) -> bool {
    let Some(first) = c
        .arg_list(ArgList::Command)
        .filter(Node::is_array)
        .and_then(|l| l.items().next())
        .and_then(|n| n.as_str())
    else {
        return false;
    };
    match first.strip_suffix(name) {
        Some("") => true,
        // `.*` does not cross a newline.
        Some(dir) => dir.ends_with('/') && !dir.contains('\n'),
        None => false,
    }
}

/// Whether some string element of `list` HAS `pattern`: contains it anywhere (see
/// [`matches()`]). trivy's `command_has_flag`, so `--secure-port=0443` has
/// `--secure-port=0` and `--audit-log-path-x` has `--audit-log-path`.
pub fn has(list: Option<Node>, pattern: &str) -> bool {
    strings(list).any(|e| matches(e, pattern))
}

/// Whether `element` contains `pattern`, where every `.` of the pattern stands for any
/// one character except a newline (the RE2 patterns trivy writes are plain text apart
/// from the dots of `--bind-address=127.0.0.1`, which also accept `127x0x0x1`). An
/// unanchored search, as RE2's `regex.match` is.
///
/// ```
/// use tollgate_kit::flags::matches;
/// assert!(matches("--bind-address=127.0.0.10", "--bind-address=127.0.0.1"));
/// assert!(matches("--bind-address=127a0b0c1", "--bind-address=127.0.0.1"));
/// assert!(!matches("--peer-cert-file=x", "--cert-file"));
/// ```
pub fn matches(element: &str, pattern: &str) -> bool {
    if !pattern.contains('.') {
        return element.contains(pattern);
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = element.chars().collect();
    if pattern.len() > text.len() {
        return false;
    }
    (0..=text.len() - pattern.len()).any(|start| {
        pattern
            .iter()
            .zip(&text[start..])
            .all(|(p, t)| if *p == '.' { *t != '\n' } else { p == t })
    })
}

/// RE2's `\s`: space, tab, newline, carriage return, form feed (not vertical tab).
fn re2_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

/// The value of `flag` (written without `=`, e.g. `--enable-admission-plugins`) inside
/// one element: after the first `flag=` that is followed by at least one non-space
/// character, the run of non-space characters (trivy's `flag=([^\s]+)`, first match).
/// `flag=` with nothing after it, and `flag` alone, have no value. The value is
/// returned whole: trivy tests plugins and modes by substring, commas and all.
///
/// ```
/// use tollgate_kit::flags::flag_value;
/// let e = "--authorization-mode=Node,RBAC";
/// assert_eq!(flag_value(e, "--authorization-mode"), Some("Node,RBAC"));
/// assert_eq!(flag_value("--authorization-mode=", "--authorization-mode"), None);
/// ```
pub fn flag_value<'s>(element: &'s str, flag: &str) -> Option<&'s str> {
    let mut from = 0;
    while let Some(i) = element[from..].find(flag) {
        let at = from + i + flag.len();
        if let Some(rest) = element[at..].strip_prefix('=') {
            let end = rest.find(re2_space).unwrap_or(rest.len());
            if end > 0 {
                return Some(&rest[..end]);
            }
        }
        // Advance by one character: occurrences may overlap.
        from += i + element[from + i..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// The values of `flag` in the elements of one list, one per element that has one.
pub fn flag_values<'a>(list: Option<Node<'a>>, flag: &'a str) -> impl Iterator<Item = &'a str> {
    strings(list).filter_map(move |e| flag_value(e, flag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Object, Tree};

    fn container(command: &str, test: impl Fn(&Container)) {
        let text = format!(
            r#"{{"kind":"Pod","spec":{{"containers":[{{"name":"c","command":{command}}}]}}}}"#
        );
        let t = Tree::from_json(&text).unwrap();
        let o = Object::new(t.root());
        test(&o.containers()[0]);
    }

    #[test]
    fn component_is_the_first_command_element() {
        let yes = |cmd: &str| container(cmd, |c| assert!(c.is_component("etcd"), "{cmd}"));
        let no = |cmd: &str| container(cmd, |c| assert!(!c.is_component("etcd"), "{cmd}"));
        yes(r#"["etcd"]"#);
        yes(r#"["/usr/local/bin/etcd","--name=x"]"#);
        yes(r#"["/etcd"]"#);
        no(r#"["etcdctl"]"#);
        no(r#"["my-etcd"]"#);
        no(r#"["etcd --name=x"]"#);
        no(r#"["sh","-c","etcd"]"#);
        no(r#"["a\nb/etcd"]"#);
        no(r#"[1,"etcd"]"#);
        no(r#""etcd""#);
        no(r#"{"0":"etcd"}"#);
        no("null");
    }

    #[test]
    fn has_searches_each_string_element() {
        let t = Tree::from_json(
            r#"[{"x":1},"--secure-port=0443","--feature-gates=A=true,X=true",7,"--bind-address=127.0.0.10"]"#,
        )
        .unwrap();
        let l = Some(t.root());
        assert!(has(l, "--secure-port=0"));
        assert!(has(l, "X=true"));
        assert!(has(l, "--bind-address=127.0.0.1"));
        assert!(!has(l, "--feature-gates=X"));
        assert!(!has(None, "--x"));
        let map = Tree::from_json(r#"{"a":"--profiling=false"}"#).unwrap();
        assert!(has(Some(map.root()), "--profiling=false"));
        assert!(!matches(
            "--bind-address=127\n0.0.1",
            "--bind-address=127.0.0.1"
        ));
        assert!(!matches("--bind", "--bind-address=127.0.0.1"));
        assert!(matches(
            "é--bind-address=127é0é0é1",
            "--bind-address=127.0.0.1"
        ));
    }

    #[test]
    fn flag_values_are_first_non_empty_runs() {
        let f = "--enable-admission-plugins";
        assert_eq!(
            flag_value("--enable-admission-plugins=A,B C", f),
            Some("A,B")
        );
        assert_eq!(flag_value("--enable-admission-plugins= x", f), None);
        assert_eq!(
            flag_value(
                "--enable-admission-plugins= --enable-admission-plugins=Y",
                f
            ),
            Some("Y")
        );
        assert_eq!(
            flag_value("x--enable-admission-plugins=A=B", f),
            Some("A=B")
        );
        assert_eq!(flag_value("--enable-admission-plugins\t=A", f), None);
        assert_eq!(
            flag_value("--enable-admission-plugins=\u{b}A", f),
            Some("\u{b}A")
        );
        assert_eq!(flag_value("--enable-admission-plugins", f), None);
        let t = Tree::from_json(
            r#"["--enable-admission-plugins=A","--x","--enable-admission-plugins=B"]"#,
        )
        .unwrap();
        assert_eq!(
            flag_values(Some(t.root()), f).collect::<Vec<_>>(),
            ["A", "B"]
        );
    }
}
