//! The connection to Redis: one server behind redis-rs's connection manager,
//! or a Redis Cluster behind its cluster connection (which follows the slot
//! map and `MOVED`/`ASK`). Both are lazy: building them touches no socket.
//!
//! Pub/sub does not go through either: classic `PUBLISH` reaches every node
//! of a cluster, so the one subscription connection ([`Connected::pubsub`])
//! may use any node; it tries the seeds in turn.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Client, Cmd, ConnectionAddr, Pipeline, RedisError, RedisFuture, Value};
use rustls::pki_types::CertificateDer;

use super::{RedisSettings, StoreError};

/// The command connection, cheap to clone (both kinds multiplex).
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// What [`connect`] builds.
pub(super) struct Connected {
    pub conn: Conn,
    /// One client per seed, for the pub/sub connection (never empty).
    pub pubsub: Vec<Client>,
}

/// The seed URLs: the one URL, or in cluster mode a comma-separated list.
pub(super) fn seeds(settings: &RedisSettings) -> Vec<&str> {
    if settings.cluster {
        settings
            .url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    } else {
        vec![settings.url.as_str()]
    }
}

/// Builds the (lazy) connections. Fails only for unusable settings, never
/// because Redis is unreachable; no error shows a URL.
pub(super) fn connect(settings: &RedisSettings) -> Result<Connected, StoreError> {
    let seeds = seeds(settings);
    if seeds.is_empty() {
        return Err(StoreError::Config("no Redis URL given".to_owned()));
    }
    let pubsub = seeds
        .iter()
        .map(|url| build_client(url, &settings.extra_roots))
        .collect::<Result<Vec<_>, _>>()?;
    let response_timeout = settings.connect_timeout.max(settings.timeout);
    let conn = if settings.cluster {
        let infos = pubsub
            .iter()
            .map(|c| c.get_connection_info().clone())
            .collect::<Vec<_>>();
        let mut builder = ClusterClientBuilder::new(infos)
            // A MOVED or ASK answer is followed by a retry; the store's own
            // per-operation timeout bounds the whole call.
            .retries(2)
            .min_retry_wait(5)
            .max_retry_wait(50)
            .connection_timeout(settings.connect_timeout)
            .response_timeout(response_timeout);
        if !settings.extra_roots.is_empty() {
            builder = builder.certs(redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(to_pem(&settings.extra_roots).into_bytes()),
            });
        }
        let client = builder.build().map_err(|e| {
            StoreError::Config(format!(
                "the Redis Cluster seeds are not usable ({:?})",
                e.kind()
            ))
        })?;
        Conn::Cluster(
            client.get_pending_async_connection_with_config(
                redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(settings.connect_timeout)
                    .set_response_timeout(response_timeout),
            ),
        )
    } else {
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(response_timeout));
        let manager = ConnectionManager::new_lazy_with_config(pubsub[0].clone(), config)
            .map_err(|e| StoreError::Config(format!("connection manager: {:?}", e.kind())))?;
        Conn::Single(manager)
    };
    Ok(Connected { conn, pubsub })
}

fn build_client(url: &str, roots: &[CertificateDer<'static>]) -> Result<Client, StoreError> {
    let bad_url =
        |e: RedisError| StoreError::Config(format!("the Redis URL is not usable ({:?})", e.kind()));
    let client = if roots.is_empty() {
        Client::open(url).map_err(bad_url)?
    } else {
        let pem = to_pem(roots);
        Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.into_bytes()),
            },
        )
        .map_err(|e| match e.kind() {
            redis::ErrorKind::InvalidClientConfig => StoreError::Config(
                "extra_roots need a rediss:// URL, and valid certificates".to_owned(),
            ),
            _ => bad_url(e),
        })?
    };
    if let ConnectionAddr::TcpTls { insecure: true, .. } = client.get_connection_info().addr() {
        return Err(StoreError::Config(
            "TLS verification cannot be disabled (#insecure)".to_owned(),
        ));
    }
    Ok(client)
}

/// PEM text of DER certificates (what redis-rs takes as roots).
fn to_pem(certs: &[CertificateDer<'static>]) -> String {
    let mut out = String::new();
    for cert in certs {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = crate::base64::standard(cert.as_ref());
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_through_the_parser_redis_uses() {
        use rustls::pki_types::pem::PemObject;
        let ca = crate::tls::TestCa::generate().expect("test CA");
        let pem = to_pem(std::slice::from_ref(&ca.ca_cert));
        let parsed: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("PEM parses");
        assert_eq!(parsed, vec![ca.ca_cert]);
    }
}
