//! TLS plumbing: the client configuration used toward Zoho (bundled WebPKI
//! roots plus any extra root the operator trusts; verification is never
//! switched off), and the throwaway CA used by the fake Zoho and `demo`.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
#[cfg(feature = "demo")]
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// The one crypto provider used everywhere (ring: no C toolchain beyond cc).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in a PEM file. The error names the file.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path)
        .map_err(|e| format!("cannot read CA file {}: {}", path.display(), e.kind()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("CA file {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("CA file {} holds no certificate", path.display()));
    }
    Ok(certs)
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("invalid trusted root certificate: {0}")]
    BadRoot(String),
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// Client config for calls to Zoho. ALPN (h2, http/1.1) is set by the connector.
pub fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots {
        roots
            .add(cert.clone())
            .map_err(|e| TlsError::BadRoot(e.to_string()))?;
    }
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(cfg)
}

/// A freshly generated CA and a server certificate it signed for
/// `localhost` and `127.0.0.1`. Nothing is written to disk. Test and demo
/// material: only in builds with the `demo` feature.
#[cfg(feature = "demo")]
pub struct TestCa {
    pub ca_cert: CertificateDer<'static>,
    pub ca_pem: String,
    pub server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    server_pem: (String, String),
}

#[cfg(feature = "demo")]
impl TestCa {
    pub fn generate() -> Result<TestCa, TlsError> {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let err = |e: rcgen::Error| TlsError::Setup(e.to_string());
        let ca_key = KeyPair::generate().map_err(err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "zoho-proxy throwaway test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(err)?;

        let key = KeyPair::generate().map_err(err)?;
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "fake zoho");
        let cert = params.signed_by(&key, &ca).map_err(err)?;
        Ok(TestCa {
            ca_cert: ca.der().clone(),
            ca_pem: ca.pem(),
            server_chain: vec![cert.der().clone()],
            server_key: key.serialize_der(),
            server_pem: (cert.pem(), key.serialize_pem()),
        })
    }

    /// The server certificate and its private key, PEM (for servers that
    /// read files, like `redis-server`). Test material only.
    pub fn server_pem(&self) -> (&str, &str) {
        (&self.server_pem.0, &self.server_pem.1)
    }

    /// A rustls server config presenting the signed certificate.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, TlsError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(self.server_chain.clone(), key)
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(cfg)
    }
}
