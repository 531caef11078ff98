//! The module graph of `src/` has no circles: a module never imports, directly or through
//! others, a module that imports it. Nodes are files as modules (`auth/store.rs` is
//! `auth/store`, a folder's `mod.rs` is the folder); edges are the `crate::` and `super::` paths
//! in code (lines starting with `//` are skipped), each resolved to the longest module prefix.
//! A path to one's own ancestor (a child using its folder's `mod.rs`) or descendant does not
//! count. `super::` is resolved from the file: inside an inline `mod tests` it reaches one level
//! less far than rustc's, which only ever turns an edge into one to an ancestor.
//! `main.rs` is skipped: its `crate` is the binary, not the library.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pretty_assertions::assert_eq;

use crate::support::repo;

/// A module: its path segments from the crate root (`["auth", "store"]`).
type Module = Vec<String>;

/// Where an import was written: the file (relative to the repository) and the 1-based line.
type Site = (String, usize);

/// Module -> module it imports -> the sites of those imports.
type Edges = BTreeMap<Module, BTreeMap<Module, BTreeSet<Site>>>;

/// Every `.rs` file under `dir` as its module, with its display path and its text.
fn read_modules(dir: &Path, prefix: &[String], into: &mut BTreeMap<Module, (String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            let mut inner = prefix.to_vec();
            inner.push(name);
            read_modules(&path, &inner, into);
            continue;
        }
        let Some(stem) = name.strip_suffix(".rs") else {
            continue;
        };
        if prefix.is_empty() && stem == "main" {
            continue;
        }
        let mut module = prefix.to_vec();
        if !matches!(stem, "mod" | "lib") {
            module.push(stem.to_string());
        }
        let shown = path
            .strip_prefix(repo())
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{shown}: {e}"));
        into.insert(module, (shown, text));
    }
}

fn is_ident(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The identifier starting at `at` and where it ends.
fn ident(text: &[u8], at: usize) -> (String, usize) {
    let end = (at..text.len())
        .find(|&i| !is_ident(text[i]))
        .unwrap_or(text.len());
    (String::from_utf8_lossy(&text[at..end]).into_owned(), end)
}

fn skip_space(text: &[u8], mut at: usize) -> usize {
    while text.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
        at += 1;
    }
    at
}

/// The paths that continue `path` at `at` (`::name`, `::{a, b::c}`, `::*`), each with the
/// offset of its last segment; returns where the path ends.
fn continue_path(
    text: &[u8],
    mut at: usize,
    mut path: (Module, usize),
    out: &mut Vec<(Module, usize)>,
) -> usize {
    while text[at..].starts_with(b"::") {
        let next = at + 2;
        match text.get(next) {
            Some(b'{') => return group(text, next + 1, &path, out),
            Some(&b) if is_ident(b) => {
                let (name, end) = ident(text, next);
                path.0.push(name);
                path.1 = next;
                at = end;
            }
            _ => break,
        }
    }
    out.push(path);
    at
}

/// The items of a `{...}` group (starting after the brace) under `prefix`; returns the offset
/// after the closing brace.
fn group(
    text: &[u8],
    mut at: usize,
    prefix: &(Module, usize),
    out: &mut Vec<(Module, usize)>,
) -> usize {
    loop {
        at = skip_space(text, at);
        match text.get(at) {
            None => return at,
            Some(b'}') => return at + 1,
            Some(b'*') => {
                out.push((prefix.0.clone(), at));
                at += 1;
            }
            Some(&b) if is_ident(b) => {
                let (name, end) = ident(text, at);
                if name == "as" {
                    // `x as y`: the alias is no path.
                    at = ident(text, skip_space(text, end)).1;
                    continue;
                }
                let mut path = prefix.0.clone();
                path.push(name);
                at = continue_path(text, end, (path, at), out);
            }
            Some(_) => at += 1,
        }
    }
}

/// Every `crate::`/`super::` path in `text` (comment lines blanked), with its line.
fn paths(text: &str) -> Vec<(Module, usize)> {
    let code: String = text
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("//") {
                "\n".to_string()
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !is_ident(bytes[at]) {
            at += 1;
            continue;
        }
        let (word, end) = ident(bytes, at);
        let starts_path = matches!(word.as_str(), "crate" | "super")
            && bytes[end..].starts_with(b"::")
            && !(at > 0 && bytes[at - 1] == b':');
        at = if starts_path {
            continue_path(bytes, end, (vec![word], at), &mut found)
        } else {
            end
        };
    }
    found
        .into_iter()
        .map(|(path, offset)| {
            (
                path,
                1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count(),
            )
        })
        .collect()
}

/// The module a path written in `from` points into: the longest prefix that is a module.
fn resolve(
    from: &Module,
    path: &Module,
    modules: &BTreeMap<Module, (String, String)>,
) -> Option<Module> {
    let full: Module = if path[0] == "crate" {
        path[1..].to_vec()
    } else {
        let supers = path.iter().take_while(|s| *s == "super").count();
        let mut base = from[..from.len().saturating_sub(supers)].to_vec();
        base.extend_from_slice(&path[supers..]);
        base
    };
    (0..=full.len())
        .rev()
        .map(|n| full[..n].to_vec())
        .find(|prefix| modules.contains_key(prefix))
}

/// The edges that count: module -> module it imports -> where.
fn edges(modules: &BTreeMap<Module, (String, String)>) -> Edges {
    let mut edges = Edges::new();
    for (from, (file, text)) in modules {
        let targets = edges.entry(from.clone()).or_default();
        for (path, line) in paths(text) {
            let Some(to) = resolve(from, &path, modules) else {
                continue;
            };
            // Into oneself, up to one's ancestors, down to one's descendants: not edges.
            if from.starts_with(&to) || to.starts_with(from) {
                continue;
            }
            targets.entry(to).or_default().insert((file.clone(), line));
        }
    }
    edges
}

/// A depth-first walk of Tarjan's algorithm over the edges.
struct Walk<'a> {
    edges: &'a Edges,
    index: BTreeMap<&'a Module, usize>,
    low: BTreeMap<&'a Module, usize>,
    stack: Vec<&'a Module>,
    on_stack: BTreeSet<&'a Module>,
    found: Vec<BTreeSet<Module>>,
}

impl<'a> Walk<'a> {
    fn visit(&mut self, v: &'a Module) {
        let n = self.index.len();
        self.index.insert(v, n);
        self.low.insert(v, n);
        self.stack.push(v);
        self.on_stack.insert(v);
        let edges = self.edges;
        for w in edges.get(v).into_iter().flat_map(|t| t.keys()) {
            if !self.index.contains_key(w) {
                self.visit(w);
                let low = self.low[v].min(self.low[w]);
                self.low.insert(v, low);
            } else if self.on_stack.contains(w) {
                let low = self.low[v].min(self.index[w]);
                self.low.insert(v, low);
            }
        }
        if self.low[v] == self.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(w);
                component.insert(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                self.found.push(component);
            }
        }
    }
}

/// Tarjan's strongly connected components with more than one module: the circles.
fn circles(edges: &Edges) -> Vec<BTreeSet<Module>> {
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "lib".to_string()
    } else {
        module.join("/")
    }
}

/// Each circle as its modules, then every edge inside it with the lines that make it.
fn describe(modules: &BTreeMap<Module, (String, String)>) -> Vec<String> {
    let edges = edges(modules);
    let mut report = Vec::new();
    for circle in circles(&edges) {
        let names: Vec<String> = circle.iter().map(name).collect();
        report.push(format!("import circle: {}", names.join(", ")));
        for from in &circle {
            for (to, sites) in edges[from].iter().filter(|(to, _)| circle.contains(*to)) {
                let sites: Vec<String> = sites.iter().map(|(f, l)| format!("{f}:{l}")).collect();
                report.push(format!(
                    "  {} -> {}: {}",
                    name(from),
                    name(to),
                    sites.join(", ")
                ));
            }
        }
    }
    report
}

#[test]
fn the_module_graph_of_src_has_no_import_circles() {
    let mut modules = BTreeMap::new();
    read_modules(&repo().join("src"), &[], &mut modules);
    assert!(modules.contains_key(&vec!["auth".to_string(), "store".to_string()]));
    let report = describe(&modules);
    assert!(
        report.is_empty(),
        "types several modules use belong in a module below them all (see docs/development.md):\n{}",
        report.join("\n")
    );
}

/// The imports from modules under `from` into modules under `to`, as `file:line -> module`.
fn crossings(modules: &BTreeMap<Module, (String, String)>, from: &str, to: &str) -> Vec<String> {
    let under = |m: &Module, prefix: &str| {
        let prefix: Vec<&str> = prefix.split('/').collect();
        m.len() >= prefix.len() && m.iter().zip(&prefix).all(|(a, b)| a == b)
    };
    let mut found = Vec::new();
    for (source, targets) in edges(modules) {
        if !under(&source, from) {
            continue;
        }
        for (target, sites) in targets.iter().filter(|(t, _)| under(t, to)) {
            for (file, line) in sites {
                found.push(format!("{file}:{line} -> {}", name(target)));
            }
        }
    }
    found
}

/// The picture of docs/development.md, enforced: the client side never uses the server side,
/// and inside `mcp/` transports never use features (a transport shows messages to a
/// `Watcher` and never knows what they mean).
#[test]
fn each_side_imports_only_downwards() {
    let mut modules = BTreeMap::new();
    read_modules(&repo().join("src"), &[], &mut modules);
    for (from, to) in [
        ("mcp/transport", "mcp/features"),
        ("mcp", "serve"),
        ("auth", "serve"),
        ("mcp", "commands"),
        ("auth", "commands"),
        ("config", "serve"),
    ] {
        assert_eq!(
            crossings(&modules, from, to),
            Vec::<String>::new(),
            "`{from}` must not import `{to}` (see docs/development.md)"
        );
    }
}

fn tree(files: &[(&str, &str)]) -> BTreeMap<Module, (String, String)> {
    files
        .iter()
        .map(|(module, text)| {
            let module: Module = module
                .split('/')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            (
                module.clone(),
                (format!("src/{}.rs", name(&module)), text.to_string()),
            )
        })
        .collect()
}

#[test]
fn the_detector_finds_circles_through_groups_super_super_and_inline_paths() {
    let modules = tree(&[
        ("", "pub mod a;\npub mod b;\npub mod c;\n"),
        ("a", "pub mod x;\n"),
        // The comment line names `c` too: it must not show up as a second site.
        (
            "a/x",
            "// crate::c::ignored\nfn f() { super::super::c::g(); }\n",
        ),
        ("b", "pub fn h() { crate::a::x::f() }\n"),
        // A group spread over lines, a nested group, `self` and an alias.
        (
            "c",
            "pub use crate::{\n    lib_item,\n    b::{self, h as H},\n};\n",
        ),
    ]);
    assert_eq!(
        describe(&modules),
        [
            "import circle: a/x, b, c",
            "  a/x -> c: src/a/x.rs:2",
            "  b -> a/x: src/b.rs:1",
            "  c -> b: src/c.rs:3",
        ]
    );
}

#[test]
fn a_child_using_its_folders_mod_rs_and_a_parent_using_its_child_are_no_circle() {
    let modules = tree(&[
        ("", "pub mod a;\n"),
        (
            "a",
            "mod x;\npub use x::f;\nfn g() { self::x::f(); crate::a::x::f(); }\n",
        ),
        (
            "a/x",
            "use super::Shared;\nuse crate::a::Shared as S;\npub fn f() {}\n",
        ),
    ]);
    assert_eq!(describe(&modules), Vec::<String>::new());
}
