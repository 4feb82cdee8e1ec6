//! The one table of functions (`functions.json` at the repository root): name, kind, route
//! prefix or topic, and the features of `shared` each links. The local server's routes,
//! `infra/` and `cloudbuild.yaml` all follow from it, and a test checks they agree.

use std::sync::OnceLock;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An HTTP API behind the load balancer.
    Service,
    /// A Pub/Sub push endpoint.
    Worker,
    /// A one-shot command (the database migration).
    Job,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    pub name: String,
    pub kind: Kind,
    /// Services: the load balancer's path prefix, e.g. `/api/v1/auth`.
    #[serde(default)]
    pub route: Option<String>,
    /// Workers: the topic whose push subscription calls them.
    #[serde(default)]
    pub topic: Option<String>,
    /// Features of `shared` the crate enables.
    #[serde(default)]
    pub features: Vec<String>,
    pub description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    functions: Vec<FunctionSpec>,
}

impl FunctionSpec {
    /// The database role a service or worker runs as (its grants are in `migrations/`);
    /// jobs (the migration) own the schema.
    pub fn database_role(&self) -> Option<String> {
        (self.kind != Kind::Job).then(|| format!("mindpause_{}", self.name.replace('-', "_")))
    }
}

pub const TABLE_JSON: &str = include_str!("../../functions.json");

pub fn all() -> &'static [FunctionSpec] {
    static TABLE: OnceLock<Vec<FunctionSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str::<Table>(TABLE_JSON)
            .expect("functions.json is valid")
            .functions
    })
}

/// The entry of `name`; panics when a crate runs under a name the table does not know.
pub fn get(name: &str) -> &'static FunctionSpec {
    all()
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("function {name} is not in functions.json"))
}
