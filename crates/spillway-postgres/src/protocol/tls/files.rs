//! Reading the certificate files: the root certificates, the client certificate chain and
//! its private key (PEM), each error naming the setting and the file.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{TlsFiles, TlsSetting, TlsSetupError};

fn setup_error(key: TlsSetting, path: &Path, detail: impl Into<String>) -> TlsSetupError {
    TlsSetupError {
        key,
        path: Some(path.to_path_buf()),
        detail: detail.into(),
    }
}

fn read_file(key: TlsSetting, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    spillway_core::config::read_file_capped(path)
        .map_err(|e| setup_error(key, path, format!("cannot read {}: {e}", path.display())))
}

fn load_certs(key: TlsSetting, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let data = read_file(key, path)?;
    certificates_from_pem_bytes(&data)
        .map_err(|e| setup_error(key, path, format!("{} {e}", path.display())))
}

/// Why the bytes of a PEM file do not give what it was named for; each reads after the
/// file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PemError {
    #[error("is not a valid PEM file: {0}")]
    Invalid(String),
    #[error("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("holds no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")]
    NoPrivateKey,
    #[error("is encrypted; encrypted keys are not supported yet: store it decrypted (openssl pkey -in KEY -out KEY.plain) and keep the file private")]
    EncryptedKey,
}

/// The certificates of a certificate file (`database.sslrootcert`, `database.sslcert`)
/// from its bytes, in file order: at least one, or an error.
pub fn certificates_from_pem_bytes(data: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PemError::Invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(certs)
}

/// The private key of a key file (`database.sslkey`) from its bytes; encrypted keys are
/// refused.
pub fn private_key_from_pem_bytes(data: &[u8]) -> Result<PrivateKeyDer<'static>, PemError> {
    // PKCS#8 "ENCRYPTED PRIVATE KEY" and OpenSSL's legacy "Proc-Type: 4,ENCRYPTED".
    if data.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(PemError::EncryptedKey);
    }
    PrivateKeyDer::from_pem_slice(data).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => PemError::NoPrivateKey,
        e => PemError::Invalid(e.to_string()),
    })
}

pub(super) fn load_roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    load_certs(TlsSetting::RootCert, path)
}

pub(super) type ClientAuth = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

pub(super) fn load_client_auth(files: &TlsFiles) -> Result<Option<ClientAuth>, TlsSetupError> {
    let (cert_path, key_path) = match (&files.client_cert, &files.client_key) {
        (None, None) => {
            return if files.key_password {
                Err(TlsSetupError {
                    key: TlsSetting::KeyPassword,
                    path: None,
                    detail: "a key password was given without a client key".into(),
                })
            } else {
                Ok(None)
            };
        }
        (Some(_), None) => {
            return Err(TlsSetupError {
                key: TlsSetting::ClientKey,
                path: None,
                detail: "a client certificate needs its private key (a PEM file)".into(),
            })
        }
        (None, Some(_)) => {
            return Err(TlsSetupError {
                key: TlsSetting::ClientCert,
                path: None,
                detail: "a client key was given without its certificate (a PEM file)".into(),
            })
        }
        (Some(c), Some(k)) => (c, k),
    };
    let chain = load_certs(TlsSetting::ClientCert, cert_path)?;
    let data = read_file(TlsSetting::ClientKey, key_path)?;
    let key = private_key_from_pem_bytes(&data).map_err(|e| {
        setup_error(
            TlsSetting::ClientKey,
            key_path,
            format!("{} {e}", key_path.display()),
        )
    })?;
    Ok(Some((chain, key)))
}
