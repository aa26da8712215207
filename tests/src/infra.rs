//! Where Postgres and NATS are: the local services named by `DATABASE_URL`
//! and `NATS_URL` (defaulting to this machine's), or containers.

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// Postgres and NATS for one test.
pub struct Infra {
    /// A URL to a database from which test databases are created.
    pub admin_database_url: String,
    pub nats_url: String,
    _containers: Option<(ContainerAsync<GenericImage>, ContainerAsync<GenericImage>)>,
}

/// Whether tests start their own containers.
pub fn use_containers() -> bool {
    std::env::var("OLYMPUS_TESTCONTAINERS").as_deref() == Ok("1")
}

impl Infra {
    /// The local services, or fresh containers with `OLYMPUS_TESTCONTAINERS=1`.
    pub async fn get() -> Self {
        if use_containers() {
            return Self::containers().await;
        }
        Self {
            admin_database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
            nats_url: std::env::var("NATS_URL")
                .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
            _containers: None,
        }
    }

    async fn containers() -> Self {
        let postgres = GenericImage::new("postgres", "15-alpine")
            .with_exposed_port(5432.tcp())
            .with_wait_for(WaitFor::message_on_stderr(
                "database system is ready to accept connections",
            ))
            .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
            .start()
            .await
            .expect("starting a Postgres container (is Docker running?)");
        let nats = GenericImage::new("nats", "2.9-alpine")
            .with_exposed_port(4222.tcp())
            .with_wait_for(WaitFor::message_on_stderr("Server is ready"))
            .with_cmd(["-js"])
            .start()
            .await
            .expect("starting a NATS container (is Docker running?)");
        let pg_host = postgres.get_host().await.expect("postgres host");
        let pg_port = postgres
            .get_host_port_ipv4(5432.tcp())
            .await
            .expect("postgres port");
        let nats_host = nats.get_host().await.expect("nats host");
        let nats_port = nats
            .get_host_port_ipv4(4222.tcp())
            .await
            .expect("nats port");
        Self {
            admin_database_url: format!("postgres://postgres@{pg_host}:{pg_port}/postgres"),
            nats_url: format!("nats://{nats_host}:{nats_port}"),
            _containers: Some((postgres, nats)),
        }
    }
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut result = format!("{}/{database}", &base[..host_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "t1"),
            "postgres://u:p@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    }
}
