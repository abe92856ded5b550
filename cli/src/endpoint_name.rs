//! Endpoint names as people type them. go-micro's CLI (`micro helloworld greeting`) and its
//! classic API gateway (`POST /helloworld/greeting`) take endpoints in lower case and by the
//! method's name alone; the CLI's service commands and the gateway's path styles take them the
//! same way, through [`find`].

/// The one of `endpoints` (`Handler.Method` names) that `wanted` names: the exact name; else
/// the name equal to it without regard to ASCII case; and for a method's name alone
/// (`greeting`), `service`'s own handler's method (`Helloworld.Greeting` of `helloworld`), else
/// the only handler's with that method. `None` when no name, or more than one, fits.
pub(crate) fn find<'a>(service: &str, endpoints: &[&'a str], wanted: &str) -> Option<&'a str> {
    if let Some(exact) = endpoints.iter().find(|name| **name == wanted) {
        return Some(exact);
    }
    let names = || endpoints.iter().copied();
    let folded = |wanted: &str| only(names().filter(|name| name.eq_ignore_ascii_case(wanted)));
    if wanted.contains('.') {
        return folded(wanted);
    }
    folded(&format!("{service}.{wanted}"))
        .or_else(|| only(names().filter(|name| method_of(name).eq_ignore_ascii_case(wanted))))
}

/// `Method` of `Handler.Method`.
fn method_of(endpoint: &str) -> &str {
    endpoint
        .rsplit_once('.')
        .map_or(endpoint, |(_, method)| method)
}

/// The one name `names` has (however often: versions of a service list the same
/// endpoints); `None` for none or several.
fn only<'a>(mut names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let first = names.next()?;
    names.all(|name| name == first).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAMING: &[&str] = &["Streamer.Ping", "Streamer.Stream", "Other.Stream"];

    #[test]
    fn exact_names_win_then_names_in_any_case() {
        let names = ["Helloworld.Greeting", "Helloworld.Call"];
        for wanted in [
            "Helloworld.Greeting",
            "helloworld.greeting",
            "HELLOWORLD.GREETING",
        ] {
            assert_eq!(
                find("helloworld", &names, wanted),
                Some("Helloworld.Greeting")
            );
        }
        assert_eq!(find("helloworld", &names, "Helloworld.Nope"), None);
    }

    #[test]
    fn a_method_alone_is_the_services_own_handlers_or_the_only_one() {
        let names = ["Helloworld.Greeting", "Debug.Health"];
        assert_eq!(
            find("helloworld", &names, "greeting"),
            Some("Helloworld.Greeting")
        );
        assert_eq!(find("helloworld", &names, "health"), Some("Debug.Health"));
        assert_eq!(find("streaming", STREAMING, "ping"), Some("Streamer.Ping"));
        let two_versions = ["Helloworld.Greeting", "Helloworld.Greeting"];
        assert_eq!(
            find("go-hello", &two_versions, "greeting"),
            Some("Helloworld.Greeting")
        );
    }

    #[test]
    fn ambiguous_or_unknown_names_find_nothing() {
        assert_eq!(find("streaming", STREAMING, "stream"), None);
        assert_eq!(find("streaming", STREAMING, "pong"), None);
        let same_but_case = ["A.Go", "A.GO"];
        assert_eq!(find("a", &same_but_case, "a.go"), None);
        assert_eq!(find("a", &same_but_case, "A.GO"), Some("A.GO"));
    }
}
