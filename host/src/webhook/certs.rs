//! `kube-devops webhook cert-generate`: a CA and a serving certificate it signs, for the
//! webhook's Service DNS names (and IP addresses, for running outside the cluster). The CA goes
//! into the ValidatingWebhookConfiguration's `caBundle`; the API server then trusts the server.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// File names written into the output directory.
pub const CA_CERT: &str = "ca.crt";
pub const SERVING_CERT: &str = "tls.crt";
pub const SERVING_KEY: &str = "tls.key";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate the certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the serving certificate is for.
#[derive(Debug, Clone)]
pub struct Names {
    pub service: String,
    pub namespace: String,
    /// Extra DNS names (`localhost` for local runs, say).
    pub dns: Vec<String>,
    pub ips: Vec<IpAddr>,
}

impl Names {
    /// `service`, `service.namespace`, `service.namespace.svc` and the cluster-local name, then
    /// the extra names.
    pub fn dns_names(&self) -> Vec<String> {
        let (service, namespace) = (&self.service, &self.namespace);
        let mut names = vec![
            service.clone(),
            format!("{service}.{namespace}"),
            format!("{service}.{namespace}.svc"),
            format!("{service}.{namespace}.svc.cluster.local"),
        ];
        names.extend(self.dns.iter().cloned());
        names
    }
}

/// The PEM texts of a fresh CA and a serving certificate and key.
pub struct Generated {
    pub ca_cert: String,
    pub cert: String,
    pub key: String,
}

pub fn generate(names: &Names) -> Result<Generated, CertError> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "kube-devops webhook CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;

    let mut serving = CertificateParams::new(names.dns_names())?;
    serving
        .subject_alt_names
        .extend(names.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    serving.distinguished_name.push(
        DnType::CommonName,
        format!("{}.{}.svc", names.service, names.namespace),
    );
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate()?;
    let cert = serving.signed_by(&key, &ca)?;
    Ok(Generated {
        ca_cert: ca.pem(),
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Writes `ca.crt`, `tls.crt` and `tls.key` into `dir` (created if needed); returns their paths.
pub fn write(dir: &Path, generated: &Generated) -> Result<Vec<PathBuf>, CertError> {
    let fail = |path: &Path| {
        let path = path.to_owned();
        move |source| CertError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(fail(dir))?;
    let mut written = Vec::new();
    for (name, text) in [
        (CA_CERT, &generated.ca_cert),
        (SERVING_CERT, &generated.cert),
        (SERVING_KEY, &generated.key),
    ] {
        let path = dir.join(name);
        // Written beside, then renamed: a server watching the files never reads half of one.
        let partial = dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, text).map_err(fail(&partial))?;
        std::fs::rename(&partial, &path).map_err(fail(&path))?;
        written.push(path);
    }
    Ok(written)
}
