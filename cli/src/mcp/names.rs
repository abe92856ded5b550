//! How tools are named: go-micro's way (`helloworld.Helloworld.Greeting`, the default), or with
//! only `[A-Za-z0-9_-]` and at most 64 characters (`helloworld_Helloworld_Greeting`), for the
//! clients that refuse anything else (Claude Desktop: "String should match pattern
//! '^[a-zA-Z0-9_-]{1,64}$'", OpenAI's function calling). Calls take either form.

/// The longest name [`ToolNames::Underscore`] gives.
const MAX_SAFE: usize = 64;

/// How tools are named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ToolNames {
    /// `<service>.<Service.Method>`, as go-micro names them.
    #[default]
    Dotted,
    /// `<service>_<Service>_<Method>`: every character outside `[A-Za-z0-9_-]` becomes `_`,
    /// and a name over 64 characters is cut, with a hash of the whole name at its end.
    Underscore,
}

impl ToolNames {
    /// The name of `service`'s `endpoint` (`Service.Method`).
    pub fn name(self, service: &str, endpoint: &str) -> String {
        match self {
            ToolNames::Dotted => dotted(service, endpoint),
            ToolNames::Underscore => underscored(service, endpoint),
        }
    }
}

/// go-micro's name.
pub(super) fn dotted(service: &str, endpoint: &str) -> String {
    format!("{service}.{endpoint}")
}

/// The name with only `[A-Za-z0-9_-]`, at most [`MAX_SAFE`] characters.
pub(super) fn underscored(service: &str, endpoint: &str) -> String {
    let whole = dotted(service, endpoint);
    let safe: String = whole
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || c == '-' {
            true => c,
            false => '_',
        })
        .collect();
    if safe.len() <= MAX_SAFE {
        return safe;
    }
    let hash = format!("_{:08x}", fnv1a(&whole) as u32);
    format!("{}{hash}", &safe[..MAX_SAFE - hash.len()])
}

/// FNV-1a: a stable hash, the same in every build.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients_take(name: &str) -> bool {
        (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn names_in_either_style() {
        let greeting = ("helloworld", "Helloworld.Greeting");
        assert_eq!(
            ToolNames::Dotted.name(greeting.0, greeting.1),
            "helloworld.Helloworld.Greeting"
        );
        assert_eq!(
            ToolNames::Underscore.name(greeting.0, greeting.1),
            "helloworld_Helloworld_Greeting"
        );
        assert_eq!(
            underscored("go.micro.srv.greeter", "Greeter.Hello"),
            "go_micro_srv_greeter_Greeter_Hello"
        );
        assert_eq!(
            underscored("logging-config", "Config.Get"),
            "logging-config_Config_Get"
        );
    }

    #[test]
    fn long_names_are_cut_with_a_hash_that_tells_them_apart() {
        let service = "com.example.inventory.warehouse.replenishment";
        let one = underscored(service, "ReplenishmentPlanner.ScheduleReplenishmentRun");
        let two = underscored(service, "ReplenishmentPlanner.ScheduleReplenishmentRuns");
        assert!(clients_take(&one) && clients_take(&two), "{one} {two}");
        assert_eq!(one.len(), 64);
        assert_ne!(one, two);
        assert_eq!(
            one,
            underscored(service, "ReplenishmentPlanner.ScheduleReplenishmentRun")
        );
    }
}
