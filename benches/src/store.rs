//! Store throughput, each backend beside its raw baseline in the same run:
//!
//! - **file**: `micro::store::FileStore` vs raw `redb` (a durable write transaction per write,
//!   a read transaction per read, both on tokio's blocking pool);
//! - **postgres**: `micro::store::PostgresStore` vs raw `tokio-postgres` on the same
//!   `deadpool-postgres` pool size, with the same prepared upsert and select into the same
//!   table layout (go-micro's, with its GIN index on metadata).
//!
//! Writes of `--value` bytes from `--concurrency` tasks, then exact reads of them. It starts
//! its own PostgreSQL on loopback (`MICRO_TEST_POSTGRES_BIN`, else `postgres` from PATH).
//!
//! ```sh
//! cargo run --release -p micro-benches --bin store          # or scripts/bench.sh store
//! cargo run --release -p micro-benches --bin store -- --writes 5000 --concurrency 32
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use micro::store::{
    FileStore, PostgresOptions, PostgresStore, ReadOptions, Record, Scope, Store, WriteOptions,
};
use micro_test_support::PostgresServer;
use redb::{Database, ReadableDatabase, TableDefinition};
use tokio_postgres::NoTls;

/// Store throughput benchmark.
#[derive(Parser)]
struct Args {
    /// Writes per round (each key written once).
    #[arg(long, default_value_t = 2_000)]
    writes: usize,
    /// Reads per round (cycling over the keys written).
    #[arg(long, default_value_t = 20_000)]
    reads: usize,
    /// Concurrent tasks.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    value: usize,
    /// Rounds per contender; the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

const TABLE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("bench");

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let postgres = PostgresServer::start().ok_or_else(|| anyhow::anyhow!("postgres not found"))?;
    println!(
        "{} writes then {} reads of {} bytes per round, {} tasks, median of {} rounds\n",
        args.writes, args.reads, args.value, args.concurrency, args.rounds
    );
    println!(
        "{:<30} {:>12} {:>7} {:>12} {:>7}",
        "contender", "writes/s", "ratio", "reads/s", "ratio"
    );
    let dir = tempfile::tempdir()?;

    let (raw_redb, file) = compare(
        &args,
        |round| redb_round(dir.path().join(format!("raw-{round}.redb")), &args),
        |round| {
            let store = FileStore::new(dir.path().join(format!("micro-{round}")));
            store_round(Arc::new(store), round, &args)
        },
    )
    .await?;
    report("raw redb", raw_redb, raw_redb);
    report("micro file store", file, raw_redb);

    let pool = raw_pool(&postgres.url(), args.concurrency)?;
    let mut options = PostgresOptions::new(&postgres.url());
    options.max_connections = args.concurrency;
    let store: Arc<dyn Store> = Arc::new(PostgresStore::new(options)?);
    let (raw_sql, micro_sql) = compare(
        &args,
        |round| sql_round(pool.clone(), round, &args),
        |round| store_round(store.clone(), round, &args),
    )
    .await?;
    report("raw tokio-postgres", raw_sql, raw_sql);
    report("micro postgres store", micro_sql, raw_sql);
    Ok(())
}

/// Write and read rates of one round.
#[derive(Clone, Copy)]
struct Rates {
    writes: f64,
    reads: f64,
}

fn report(name: &str, rates: Rates, baseline: Rates) {
    println!(
        "{name:<30} {:>12.0} {:>6.2}x {:>12.0} {:>6.2}x",
        rates.writes,
        rates.writes / baseline.writes,
        rates.reads,
        rates.reads / baseline.reads
    );
}

/// The medians (of writes and of reads) of `args.rounds` rounds of `raw` and of `micro`, run
/// alternately so that both see the same server state and machine load.
async fn compare<R, RFut, M, MFut>(args: &Args, raw: R, micro: M) -> anyhow::Result<(Rates, Rates)>
where
    R: Fn(usize) -> RFut,
    RFut: Future<Output = anyhow::Result<Rates>>,
    M: Fn(usize) -> MFut,
    MFut: Future<Output = anyhow::Result<Rates>>,
{
    let (mut raws, mut micros) = (Vec::new(), Vec::new());
    for round in 0..args.rounds {
        raws.push(raw(round).await?);
        micros.push(micro(round).await?);
    }
    Ok((median(raws), median(micros)))
}

fn median(rounds: Vec<Rates>) -> Rates {
    let middle = |mut rates: Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    Rates {
        writes: middle(rounds.iter().map(|r| r.writes).collect()),
        reads: middle(rounds.iter().map(|r| r.reads).collect()),
    }
}

/// Operations per second of `op(0..count)` run from `concurrency` tasks.
async fn rate<F, Fut>(count: usize, concurrency: usize, op: F) -> anyhow::Result<f64>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let op = op.clone();
            tokio::spawn(async move {
                for i in (task..count).step_by(concurrency) {
                    op(i).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    Ok(count as f64 / started.elapsed().as_secs_f64())
}

fn key(i: usize) -> String {
    format!("user/{i:08}")
}

/// Writes then reads through `store`, in a table of its own for `round`.
async fn store_round(store: Arc<dyn Store>, round: usize, args: &Args) -> anyhow::Result<Rates> {
    let scope = Scope::new("bench", format!("round_{round}"));
    // Untimed, as the baselines make their table before timing: creates this round's table.
    let warm_up = WriteOptions {
        scope: scope.clone(),
    };
    store.write(&Record::new("warm-up", "x"), warm_up).await?;
    let (writes, value) = (args.writes, bytes::Bytes::from(vec![7u8; args.value]));
    let (writer, write_scope) = (store.clone(), scope.clone());
    let write = rate(writes, args.concurrency, move |i| {
        let (store, record) = (writer.clone(), Record::new(key(i), value.clone()));
        let options = WriteOptions {
            scope: write_scope.clone(),
        };
        async move { Ok(store.write(&record, options).await?) }
    })
    .await?;
    let length = args.value;
    let read = rate(args.reads, args.concurrency, move |i| {
        let (store, options) = (store.clone(), ReadOptions::default().scope(scope.clone()));
        async move {
            let records = store.read(&key(i % writes), options).await?;
            anyhow::ensure!(records.len() == 1, "one record");
            anyhow::ensure!(records[0].value.len() == length, "the value written");
            Ok(())
        }
    })
    .await?;
    Ok(Rates {
        writes: write,
        reads: read,
    })
}

async fn redb_round(path: std::path::PathBuf, args: &Args) -> anyhow::Result<Rates> {
    let database = Arc::new(Database::create(path)?);
    let (writes, value) = (args.writes, Arc::new(vec![7u8; args.value]));
    let writer = database.clone();
    let write = rate(writes, args.concurrency, move |i| {
        let (database, value) = (writer.clone(), value.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let txn = database.begin_write()?;
                txn.open_table(TABLE)?.insert(key(i).as_str(), &value[..])?;
                txn.commit()?;
                anyhow::Ok(())
            })
            .await?
        }
    })
    .await?;
    let length = args.value;
    let read = rate(args.reads, args.concurrency, move |i| {
        let database = database.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let txn = database.begin_read()?;
                let found = txn.open_table(TABLE)?.get(key(i % writes).as_str())?;
                let found = found.ok_or_else(|| anyhow::anyhow!("one record"))?;
                anyhow::ensure!(found.value().len() == length, "the value written");
                Ok(())
            })
            .await?
        }
    })
    .await?;
    Ok(Rates {
        writes: write,
        reads: read,
    })
}

fn raw_pool(url: &str, size: usize) -> anyhow::Result<Pool> {
    let config: tokio_postgres::Config = url.parse()?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager).max_size(size).build()?)
}

async fn sql_round(pool: Pool, round: usize, args: &Args) -> anyhow::Result<Rates> {
    let table = format!("raw.bench_{round}");
    let client = pool.get().await?;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS raw; CREATE TABLE {table} (key text NOT NULL, \
             value bytea, metadata jsonb, expiry timestamptz, PRIMARY KEY (key)); \
             CREATE INDEX ON {table} USING GIN (metadata)"
        ))
        .await?;
    drop(client);
    let upsert = Arc::new(format!(
        "INSERT INTO {table} (key, value, metadata, expiry) VALUES ($1, $2, '{{}}', NULL) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value"
    ));
    let select = Arc::new(format!(
        "SELECT key, value, metadata, expiry FROM {table} WHERE key = $1 \
         AND (expiry IS NULL OR expiry > now())"
    ));
    let (writes, value) = (args.writes, Arc::new(vec![7u8; args.value]));
    let writer = pool.clone();
    let write = rate(writes, args.concurrency, move |i| {
        let (pool, upsert, value) = (writer.clone(), upsert.clone(), value.clone());
        async move {
            let client = pool.get().await?;
            let statement = client.prepare_cached(&upsert).await?;
            client.execute(&statement, &[&key(i), &&value[..]]).await?;
            Ok(())
        }
    })
    .await?;
    let length = args.value;
    let read = rate(args.reads, args.concurrency, move |i| {
        let (pool, select) = (pool.clone(), select.clone());
        async move {
            let client = pool.get().await?;
            let statement = client.prepare_cached(&select).await?;
            let rows = client.query(&statement, &[&key(i % writes)]).await?;
            anyhow::ensure!(rows.len() == 1, "one record");
            // The value is what a read is for, as micro's read below hands it over.
            let value: &[u8] = rows[0].try_get(1)?;
            anyhow::ensure!(value.len() == length, "the value written");
            Ok(())
        }
    })
    .await?;
    Ok(Rates {
        writes: write,
        reads: read,
    })
}
