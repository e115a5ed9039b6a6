//! `cargo xtask msrv-check`: every workspace member's `rust-version` must be
//! at least the `rust-version` of each locked dependency it builds, followed
//! transitively through normal and build dependencies (not dev-dependencies),
//! for every target platform and with all features on.
//!
//! The graph is `cargo metadata --format-version 1 --locked --all-features`
//! (so it is exactly what `Cargo.lock` pins). A dependency that declares no
//! `rust-version` still needs the Rust of its edition (2024: 1.85, 2021:
//! 1.56, 2018: 1.31), and so does the member itself.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde_json::Value;

/// A Rust release as written in `rust-version`: `1.89` or `1.89.0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RustVersion {
    major: u64,
    minor: u64,
    patch: u64,
}

impl RustVersion {
    /// Parses `MAJOR.MINOR[.PATCH]`.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(part) => part.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(RustVersion {
            major,
            minor,
            patch,
        })
    }

    /// The first Rust that compiles an edition.
    fn of_edition(edition: &str) -> RustVersion {
        let minor = match edition {
            "2024" => 85,
            "2021" => 56,
            "2018" => 31,
            _ => 0,
        };
        RustVersion {
            major: 1,
            minor,
            patch: 0,
        }
    }
}

impl fmt::Display for RustVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

/// One package of the resolved graph.
#[derive(Debug)]
struct Package {
    name: String,
    version: String,
    /// `rust-version`, or else what its edition needs.
    needs: RustVersion,
    /// Whether `needs` comes from `rust-version` (not only the edition).
    declared: bool,
    edition: String,
}

impl Package {
    fn label(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    fn needs_label(&self) -> String {
        if self.declared {
            format!("rust-version {}", self.needs)
        } else {
            format!("edition {}, no rust-version: {}", self.edition, self.needs)
        }
    }
}

/// The resolved dependency graph of the workspace, dev-dependencies left out.
#[derive(Debug)]
pub(crate) struct Graph {
    packages: HashMap<String, Package>,
    /// Package id → the ids it depends on as a normal or build dependency.
    deps: HashMap<String, Vec<String>>,
    /// Workspace member ids, in the workspace's order.
    members: Vec<String>,
}

impl Graph {
    /// Reads the output of `cargo metadata --format-version 1` (with `resolve`).
    pub(crate) fn from_metadata(metadata: &Value) -> Result<Graph, String> {
        let mut packages = HashMap::new();
        for package in array(metadata, "packages")? {
            let id = string(package, "id")?;
            let edition = string(package, "edition")?;
            let (needs, declared) = match package.get("rust_version").and_then(Value::as_str) {
                Some(text) => (
                    RustVersion::parse(text).ok_or_else(|| {
                        format!("package `{id}`: unreadable rust-version `{text}`")
                    })?,
                    true,
                ),
                None => (RustVersion::of_edition(edition), false),
            };
            packages.insert(
                id.to_owned(),
                Package {
                    name: string(package, "name")?.to_owned(),
                    version: string(package, "version")?.to_owned(),
                    needs,
                    declared,
                    edition: edition.to_owned(),
                },
            );
        }

        let resolve = metadata
            .get("resolve")
            .filter(|resolve| !resolve.is_null())
            .ok_or("cargo metadata has no `resolve` (was --no-deps given?)")?;
        let mut deps = HashMap::new();
        for node in array(resolve, "nodes")? {
            let id = string(node, "id")?;
            let mut edges = Vec::new();
            for dep in array(node, "deps")? {
                // `kind` is null for a normal dependency, "build" or "dev".
                let kinds = array(dep, "dep_kinds")?;
                let built = kinds.is_empty()
                    || kinds
                        .iter()
                        .any(|kind| kind.get("kind").and_then(Value::as_str) != Some("dev"));
                if built {
                    edges.push(string(dep, "pkg")?.to_owned());
                }
            }
            deps.insert(id.to_owned(), edges);
        }

        let members = array(metadata, "workspace_members")?
            .iter()
            .map(|id| {
                id.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "workspace_members: not a string".to_owned())
            })
            .collect::<Result<Vec<_>, _>>()?;
        for id in members.iter().chain(deps.keys()) {
            if !packages.contains_key(id) {
                return Err(format!("package `{id}` is in the graph but not described"));
            }
        }
        Ok(Graph {
            packages,
            deps,
            members,
        })
    }

    /// What each workspace member declares and what its dependencies need.
    pub(crate) fn check(&self) -> Vec<MemberReport> {
        self.members
            .iter()
            .map(|member| self.check_member(member))
            .collect()
    }

    fn check_member(&self, member: &str) -> MemberReport {
        let package = &self.packages[member];
        let declared = package.declared.then_some(package.needs);

        // Breadth first, so each chain printed is a shortest one.
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([member]);
        let mut order = Vec::new();
        parent.insert(member, member);
        while let Some(id) = queue.pop_front() {
            order.push(id);
            for dep in self.deps.get(id).into_iter().flatten() {
                if !parent.contains_key(dep.as_str()) {
                    parent.insert(dep, id);
                    queue.push_back(dep);
                }
            }
        }
        let chain = |id: &str| -> Vec<String> {
            let mut ids = vec![id];
            let mut at = id;
            while at != member {
                at = parent[at];
                ids.push(at);
            }
            ids.reverse();
            ids.iter().map(|id| self.packages[*id].label()).collect()
        };

        // Without a rust-version the member is held to its edition's.
        let floor = declared.unwrap_or_else(|| RustVersion::of_edition(&package.edition));
        let mut needed: Option<(Requirement, bool)> = None;
        let mut offenders = Vec::new();
        for id in order {
            let dep = &self.packages[id];
            // The member itself needs what its edition needs.
            let requirement = if id == member {
                Requirement {
                    needs: RustVersion::of_edition(&dep.edition),
                    what: format!("edition {}", dep.edition),
                    chain: chain(id),
                }
            } else {
                Requirement {
                    needs: dep.needs,
                    what: dep.needs_label(),
                    chain: chain(id),
                }
            };
            if requirement.needs > floor {
                offenders.push(requirement.clone());
            }
            // The newest need; among equals, a package from outside the
            // workspace (the root cause), then the shortest chain.
            let external = !self.members.iter().any(|m| m == id);
            if id != member
                && needed.as_ref().is_none_or(|(best, best_external)| {
                    (requirement.needs, external).cmp(&(best.needs, *best_external))
                        == Ordering::Greater
                })
            {
                needed = Some((requirement, external));
            }
        }
        offenders.sort_by(|a, b| b.needs.cmp(&a.needs).then_with(|| a.chain.cmp(&b.chain)));
        MemberReport {
            name: package.name.clone(),
            declared,
            needed: needed.map(|(requirement, _)| requirement),
            offenders,
        }
    }
}

/// One package's need for a Rust release, and how a member reaches it.
#[derive(Clone, Debug)]
pub(crate) struct Requirement {
    /// The Rust it needs.
    pub needs: RustVersion,
    /// Where that comes from (`rust-version 1.89`, or its edition).
    pub what: String,
    /// `member version → … → package version`.
    pub chain: Vec<String>,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.chain.join(" → "), self.what)
    }
}

/// The verdict for one workspace member.
#[derive(Debug)]
pub(crate) struct MemberReport {
    /// The member's package name.
    pub name: String,
    /// Its `rust-version`, if it declares one.
    pub declared: Option<RustVersion>,
    /// The dependency that needs the newest Rust, if any has a need.
    pub needed: Option<Requirement>,
    /// Everything reachable (the member included, for its edition) that
    /// needs a newer Rust than the member declares, newest first.
    pub offenders: Vec<Requirement>,
}

impl MemberReport {
    /// Whether the member declares a `rust-version` its dependencies honour.
    pub(crate) fn is_ok(&self) -> bool {
        self.declared.is_some() && self.offenders.is_empty()
    }
}

/// Prints one line per member, then every failure with its chain; returns
/// how many members fail.
pub(crate) fn print(reports: &[MemberReport]) -> usize {
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for report in reports {
        let declared = report
            .declared
            .map_or_else(|| "none".to_owned(), |v| v.to_string());
        let needed = report
            .needed
            .as_ref()
            .map_or_else(|| "nothing".to_owned(), ToString::to_string);
        let verdict = if report.is_ok() { "ok  " } else { "FAIL" };
        println!(
            "  {verdict} {:<width$}  declares {declared:<6} needs {needed}",
            report.name
        );
    }
    let failing: Vec<&MemberReport> = reports.iter().filter(|r| !r.is_ok()).collect();
    for report in &failing {
        match report.declared {
            None => println!(
                "\n{} declares no rust-version; set `rust-version` in its Cargo.toml",
                report.name
            ),
            Some(declared) => {
                println!(
                    "\n{} declares rust-version {declared}, but {} locked package(s) it builds need newer:",
                    report.name,
                    report.offenders.len()
                );
                for offender in &report.offenders {
                    println!("    needs {}: {offender}", offender.needs);
                }
            }
        }
    }
    failing.len()
}

fn array<'a>(value: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("cargo metadata: `{key}` is missing or not an array"))
}

fn string<'a>(value: &'a Value, key: &str) -> Result<&'a str, String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("cargo metadata: `{key}` is missing or not a string"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(id: &str, rust_version: Option<&str>, edition: &str) -> Value {
        json!({
            "id": id,
            "name": id,
            "version": "1.0.0",
            "edition": edition,
            "rust_version": rust_version,
        })
    }

    fn dep(pkg: &str, kinds: &[Option<&str>]) -> Value {
        let kinds: Vec<Value> = kinds
            .iter()
            .map(|kind| json!({ "kind": kind, "target": null }))
            .collect();
        json!({ "name": pkg, "pkg": pkg, "dep_kinds": kinds })
    }

    /// app (declares 1.80) → lib (1.70) → deep (1.89); app -dev→ devonly (1.95);
    /// app -build→ gen (1.84); app → noversion (edition 2024, no rust-version).
    fn metadata(app_rust_version: Option<&str>, app_edition: &str) -> Value {
        json!({
            "packages": [
                package("app", app_rust_version, app_edition),
                package("lib", Some("1.70"), "2021"),
                package("deep", Some("1.89.0"), "2021"),
                package("devonly", Some("1.95"), "2021"),
                package("gen", Some("1.84"), "2021"),
                package("noversion", None, "2024"),
            ],
            "workspace_members": ["app"],
            "resolve": { "nodes": [
                { "id": "app", "deps": [
                    dep("lib", &[None]),
                    dep("devonly", &[Some("dev")]),
                    dep("gen", &[Some("build")]),
                    dep("noversion", &[None]),
                ]},
                { "id": "lib", "deps": [dep("deep", &[None])] },
                { "id": "deep", "deps": [] },
                { "id": "devonly", "deps": [] },
                { "id": "gen", "deps": [] },
                { "id": "noversion", "deps": [] },
            ]},
        })
    }

    fn report(metadata: &Value) -> MemberReport {
        let graph = Graph::from_metadata(metadata).expect("valid metadata");
        let mut reports = graph.check();
        assert_eq!(reports.len(), 1);
        reports.remove(0)
    }

    #[test]
    fn parses_rust_versions() {
        let v = |text| RustVersion::parse(text).map(|v| v.to_string());
        assert_eq!(v("1.89"), Some("1.89".to_owned()));
        assert_eq!(v("1.89.0"), Some("1.89".to_owned()));
        assert_eq!(v("1.89.2"), Some("1.89.2".to_owned()));
        assert_eq!(v("1"), None);
        assert_eq!(v("1.x"), None);
        assert_eq!(v("1.2.3.4"), None);
        assert!(RustVersion::parse("1.9") < RustVersion::parse("1.89"));
    }

    #[test]
    fn transitive_dependency_newer_than_declared_fails_with_its_chain() {
        let report = report(&metadata(Some("1.80"), "2021"));
        assert!(!report.is_ok());
        let chains: Vec<String> = report.offenders.iter().map(ToString::to_string).collect();
        assert_eq!(
            chains,
            [
                "app 1.0.0 → lib 1.0.0 → deep 1.0.0 (rust-version 1.89)",
                "app 1.0.0 → noversion 1.0.0 (edition 2024, no rust-version: 1.85)",
                "app 1.0.0 → gen 1.0.0 (rust-version 1.84)",
            ]
        );
        let needed = report.needed.expect("dependencies have needs");
        assert_eq!(needed.needs, RustVersion::parse("1.89").expect("valid"));
    }

    #[test]
    fn dev_dependencies_do_not_count() {
        let report = report(&metadata(Some("1.89"), "2021"));
        assert!(report.is_ok(), "{:?}", report.offenders);
        assert_eq!(
            report.needed.map(|n| n.chain.join(" → ")),
            Some("app 1.0.0 → lib 1.0.0 → deep 1.0.0".to_owned())
        );
    }

    #[test]
    fn a_member_without_rust_version_fails() {
        let report = report(&metadata(None, "2024"));
        assert!(!report.is_ok());
        assert_eq!(report.declared, None);
    }

    #[test]
    fn the_members_own_edition_counts() {
        let mut metadata = metadata(Some("1.84"), "2024");
        // Only the member's edition (1.85) is above 1.84 once `deep` is gone.
        metadata["resolve"]["nodes"][1]["deps"] = json!([]);
        metadata["packages"][5]["edition"] = json!("2021");
        let report = report(&metadata);
        let chains: Vec<String> = report.offenders.iter().map(ToString::to_string).collect();
        assert_eq!(chains, ["app 1.0.0 (edition 2024)"]);
    }
}
