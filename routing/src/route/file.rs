//! Route files: TOML, one `[[route]]` table per route (format in `routing/README.md`).

use super::{Route, RouteError, RouteTable};
use serde::{Deserialize, Serialize};

/// A route file as TOML gives it, each route still a plain value so that an error can name it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    route: Vec<toml::Value>,
}

/// A route file to write.
#[derive(Serialize)]
struct OutFile<'a> {
    route: &'a [Route],
}

impl RouteTable {
    /// Reads a route file and checks its routes ([`RouteTable::new`]). An error names the
    /// route (its id, or `#n` for the n-th `[[route]]` when the id is missing or bad) and the
    /// field.
    pub fn from_toml(text: &str) -> Result<Self, RouteError> {
        let file: RawFile = toml::from_str(text).map_err(|error| syntax_error(text, &error))?;
        let routes = (file.route.into_iter().enumerate())
            .map(|(index, value)| route_from(index, value))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(routes)
    }

    /// The table as a route file that [`RouteTable::from_toml`] reads back to the same table.
    pub fn to_toml(&self) -> Result<String, RouteError> {
        toml::to_string(&OutFile {
            route: self.routes(),
        })
        .map_err(|error| RouteError::Syntax(error.to_string()))
    }
}

/// A TOML error with the line it is on.
fn syntax_error(text: &str, error: &toml::de::Error) -> RouteError {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            RouteError::Syntax(format!("line {line}: {message}"))
        }
        None => RouteError::Syntax(message.to_string()),
    }
}

/// The `index`-th route of a file, with its field errors named.
fn route_from(index: usize, value: toml::Value) -> Result<Route, RouteError> {
    let name = value
        .get("id")
        .and_then(toml::Value::as_str)
        .filter(|id| super::RouteId::new(*id).is_ok())
        .map_or_else(|| format!("#{}", index + 1), str::to_string);
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        RouteError::Field {
            route: name,
            field,
            message: error.into_inner().message().to_string(),
        }
    })
}
