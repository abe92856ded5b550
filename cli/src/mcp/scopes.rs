//! Per-tool scopes: which tools need which scopes, and the check of a caller's token.

use std::collections::BTreeMap;
use std::sync::Arc;

use micro::auth::{Account, Auth};
use micro::errors::Error;

use super::{MCP_ID, Tool};

/// Who calls a tool: the bearer token the MCP client sent (streamable HTTP's
/// `Authorization` header), or `micro`'s own `--token`.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The token, without `Bearer `.
    pub token: Option<String>,
}

impl Caller {
    /// The caller a request's `Authorization` header names; without one, `token` (`--token`).
    pub fn from_headers(headers: Option<&http::HeaderMap>, token: Option<&String>) -> Caller {
        let header = headers
            .and_then(|headers| headers.get(http::header::AUTHORIZATION))
            .and_then(|value| value.to_str().ok());
        match header {
            Some(value) => Caller::from_authorization(value),
            None => Caller {
                token: token.cloned(),
            },
        }
    }

    /// The caller an `Authorization` header value names (`Bearer <token>`).
    pub fn from_authorization(value: &str) -> Caller {
        let token = value
            .strip_prefix(micro::auth::BEARER_SCHEME)
            .or_else(|| value.strip_prefix("bearer "))
            .unwrap_or(value)
            .trim();
        Caller {
            token: (!token.is_empty()).then(|| token.to_owned()),
        }
    }
}

/// The scopes tools require and the auth that checks callers' tokens against them.
///
/// A tool's scopes are the operator's (`--scope TOOL=SCOPE,…`), else those the service
/// registered in the endpoint's `scopes` metadata (go-micro's convention). A tool with scopes
/// may be called only with a token whose account holds one of them.
#[derive(Clone, Debug, Default)]
pub struct Scopes {
    overrides: BTreeMap<String, Vec<String>>,
    auth: Option<Arc<dyn Auth>>,
}

impl Scopes {
    /// `overrides` by tool name, and `auth` to inspect tokens with (without it, a tool that
    /// needs scopes cannot be called).
    pub fn new(overrides: BTreeMap<String, Vec<String>>, auth: Option<Arc<dyn Auth>>) -> Scopes {
        Scopes { overrides, auth }
    }

    /// The scopes a tool requires: the operator's (under any of its `names`), else the
    /// service's `declared` ones.
    pub(super) fn required(&self, names: &[String], declared: Vec<String>) -> Vec<String> {
        names
            .iter()
            .find_map(|name| self.overrides.get(name).cloned())
            .unwrap_or(declared)
    }

    /// Whether `caller` may call `tool`: the account the token names, if it was inspected;
    /// an error (401 or 403, go-micro style) when it may not.
    pub async fn check(&self, tool: &Tool, caller: &Caller) -> Result<Option<Account>, Error> {
        if tool.scopes.is_empty() {
            return Ok(None);
        }
        let needed = tool.scopes.join(", ");
        let Some(auth) = &self.auth else {
            return Err(Error::forbidden(
                MCP_ID,
                format!(
                    "{} needs one of the scopes [{needed}], and this MCP server cannot check \
                     tokens: start it with --auth-public-key (the key the services verify \
                     tokens with)",
                    tool.name
                ),
            ));
        };
        let Some(token) = &caller.token else {
            return Err(Error::unauthorized(
                MCP_ID,
                format!(
                    "{} needs one of the scopes [{needed}]: send a bearer token (the \
                     Authorization header, or --token)",
                    tool.name
                ),
            ));
        };
        let account = auth
            .inspect(token)
            .await
            .map_err(|err| Error::unauthorized(MCP_ID, format!("the token was refused: {err}")))?;
        if !account
            .scopes
            .iter()
            .any(|scope| tool.scopes.contains(scope))
        {
            return Err(Error::forbidden(
                MCP_ID,
                format!(
                    "account {} may not call {}: it needs one of the scopes [{needed}] and \
                     holds [{}]",
                    account.id,
                    tool.name,
                    account.scopes.join(", ")
                ),
            ));
        }
        Ok(Some(account))
    }
}

/// Parses `--scope TOOL=SCOPE[,SCOPE…]`.
pub(crate) fn parse_scope(text: &str) -> Result<(String, Vec<String>), String> {
    let (tool, scopes) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not TOOL=SCOPE[,SCOPE…]"))?;
    let tool = tool.trim();
    if tool.is_empty() {
        return Err(format!("`{text}` names no tool: TOOL=SCOPE[,SCOPE…]"));
    }
    Ok((tool.to_owned(), super::toolbox::split_scopes(scopes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(
            Caller::from_authorization("Bearer abc").token.as_deref(),
            Some("abc")
        );
        assert_eq!(
            Caller::from_authorization("bearer abc").token.as_deref(),
            Some("abc")
        );
        assert_eq!(Caller::from_authorization("Bearer ").token, None);
    }

    #[test]
    fn scope_flags_name_a_tool_and_its_scopes() {
        assert_eq!(
            parse_scope("blog.Blog.Create=blog:write,admin").unwrap(),
            (
                "blog.Blog.Create".to_owned(),
                vec!["blog:write".to_owned(), "admin".to_owned()]
            )
        );
        assert!(parse_scope("blog.Blog.Create").is_err());
        assert!(parse_scope("=admin").is_err());
    }

    #[test]
    fn the_operators_scopes_replace_the_services() {
        let overrides = BTreeMap::from([("a.B.C".to_owned(), vec!["x".to_owned()])]);
        let scopes = Scopes::new(overrides, None);
        let names = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            scopes.required(&names(&["a.B.C", "a_B_C"]), vec!["y".into()]),
            ["x"]
        );
        assert_eq!(
            scopes.required(&names(&["a.B.D", "a_B_D"]), vec!["y".into()]),
            ["y"]
        );
    }
}
