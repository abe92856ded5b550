//! Keeps a balanced etcd client off members that stop answering.
//!
//! etcd's client spreads requests over every endpoint it was given. A member that is frozen or
//! cut off by a partition keeps its TCP connections open, so requests sent to it hang until
//! they time out: a registry heartbeat stuck there for its whole timeout can let a lease lapse.
//! A watchdog asks each member for its status every [`PROBE_INTERVAL`]; a member that does not
//! answer within [`PROBE_TIMEOUT`] is taken out of the balanced client, and put back once it
//! answers again. When no member answers, all are kept, so errors still say what is wrong.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::Client;
use tokio::task::JoinHandle;

/// How often each member is asked for its status.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// How long a member may take to answer before it is left out.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The watchdog of one client; stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Watchdog {
    _stops_when_dropped: Arc<Abort>,
}

#[derive(Debug)]
struct Abort(JoinHandle<()>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A member: its endpoint URL, as the balanced client knows it, and a client of its own.
struct Member {
    url: String,
    probe: Option<Client>,
    in_use: bool,
}

impl Watchdog {
    /// Watches the members at `urls` (with their scheme, as `client` was given them), probing
    /// each through a client of its own made by `connect`.
    pub(crate) fn start<C, Fut>(client: Client, urls: Vec<String>, connect: C) -> Watchdog
    where
        C: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Client, String>> + Send + 'static,
    {
        let members = urls
            .into_iter()
            .map(|url| Member {
                url,
                probe: None,
                in_use: true,
            })
            .collect();
        let task = tokio::spawn(watch(client, members, connect));
        Watchdog {
            _stops_when_dropped: Arc::new(Abort(task)),
        }
    }
}

async fn watch<C, Fut>(client: Client, mut members: Vec<Member>, connect: C)
where
    C: Fn(String) -> Fut,
    Fut: Future<Output = Result<Client, String>>,
{
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let probes = members.iter_mut().map(|member| member.answers(&connect));
        let answering = futures_util::future::join_all(probes).await;
        let none_answer = !answering.contains(&true);
        for (member, answers) in members.iter_mut().zip(answering) {
            let use_it = answers || none_answer;
            if use_it == member.in_use {
                continue;
            }
            let changed = match use_it {
                true => client.add_endpoint(&member.url).await,
                false => client.remove_endpoint(&member.url).await,
            };
            match changed {
                Ok(()) => {
                    member.in_use = use_it;
                    tracing::info!(member = %member.url, answering = use_it, "etcd member {}", if use_it { "back in use" } else { "not answering, left out" });
                }
                Err(err) => {
                    tracing::debug!(member = %member.url, error = %err, "cannot change etcd endpoints")
                }
            }
        }
    }
}

impl Member {
    /// Whether the member answers a status request within [`PROBE_TIMEOUT`].
    async fn answers<C, Fut>(&mut self, connect: &C) -> bool
    where
        C: Fn(String) -> Fut,
        Fut: Future<Output = Result<Client, String>>,
    {
        let probe = async {
            if self.probe.is_none() {
                self.probe = Some(connect(self.url.clone()).await.ok()?);
            }
            let client = self.probe.as_mut()?;
            client.status().await.ok()
        };
        matches!(
            tokio::time::timeout(PROBE_TIMEOUT, probe).await,
            Ok(Some(_))
        )
    }
}
